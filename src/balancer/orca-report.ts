import { Client, Metadata, credentials, status as Status, type ChannelInterface, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';

/** The trailer in which a server sends its load report with each call (gRFC A51). */
export const LOAD_REPORT_TRAILER = 'endpoint-load-metrics-bin';

/** What a balancer uses of a server's ORCA load report (xds.data.orca.v3.OrcaLoadReport). */
export interface LoadReport {
  /** CPU utilization, 0..1 (may exceed 1 where the server counts more than its share). */
  readonly cpuUtilization: number;
  /** The application's own utilization figure; preferred over CPU when set (> 0). */
  readonly applicationUtilization: number;
  /** Queries per second the server sees. */
  readonly qps: number;
  /** Errors per second the server sees. */
  readonly eps: number;
}

/**
 * The part of the ORCA protocol used here, declared with its field numbers (the other fields of
 * the report are skipped when decoding). Declared rather than loaded from grpc-js's proto files,
 * which are not part of its public API.
 */
const ORCA_SCHEMA = {
  nested: {
    google: { nested: { protobuf: { nested: { Duration: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } } } } } },
    xds: {
      nested: {
        data: {
          nested: {
            orca: {
              nested: {
                v3: {
                  nested: {
                    OrcaLoadReport: {
                      fields: {
                        cpu_utilization: { type: 'double', id: 1 },
                        rps_fractional: { type: 'double', id: 6 },
                        eps: { type: 'double', id: 7 },
                        application_utilization: { type: 'double', id: 9 },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        service: {
          nested: {
            orca: {
              nested: {
                v3: {
                  nested: {
                    OrcaLoadReportRequest: {
                      fields: {
                        report_interval: { type: 'google.protobuf.Duration', id: 1 },
                        request_cost_names: { rule: 'repeated', type: 'string', id: 2 },
                      },
                    },
                    OpenRcaService: {
                      methods: {
                        StreamCoreMetrics: {
                          requestType: 'OrcaLoadReportRequest',
                          responseType: 'xds.data.orca.v3.OrcaLoadReport',
                          responseStream: true,
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

interface RawReport {
  cpu_utilization: number;
  rps_fractional: number;
  eps: number;
  application_utilization: number;
}

interface OrcaProtocol {
  readonly path: string;
  readonly serialize: (request: unknown) => Buffer;
  readonly deserialize: (bytes: Buffer) => RawReport;
}

let protocol: OrcaProtocol | undefined;

/** Built on first use, so clients that never see a load report never pay for it. */
function orca(): OrcaProtocol {
  if (protocol !== undefined) return protocol;
  const definition = fromJSON(ORCA_SCHEMA as Parameters<typeof fromJSON>[0], { keepCase: true, longs: Number, defaults: true });
  const method = (definition['xds.service.orca.v3.OpenRcaService'] as Record<string, { path: string; requestSerialize: (r: unknown) => Buffer; responseDeserialize: (b: Buffer) => RawReport }>).StreamCoreMetrics;
  return (protocol = { path: method.path, serialize: method.requestSerialize, deserialize: method.responseDeserialize });
}

function toReport(raw: RawReport): LoadReport {
  return {
    cpuUtilization: raw.cpu_utilization,
    applicationUtilization: raw.application_utilization,
    qps: raw.rps_fractional,
    eps: raw.eps,
  };
}

/** The load report in a call's trailers, or undefined when there is none or it does not decode. */
export function loadReportOf(trailers: Metadata | undefined): LoadReport | undefined {
  if (trailers === undefined) return undefined;
  const values = trailers.get(LOAD_REPORT_TRAILER);
  if (values.length === 0 || !Buffer.isBuffer(values[0])) return undefined;
  try {
    return toReport(orca().deserialize(values[0]));
  } catch {
    // A report that does not decode says nothing about the server's load; the call itself is fine.
    return undefined;
  }
}

/** How a stream of out-of-band reports ended. */
export type ReportStreamEnd = 'unsupported' | 'cancelled' | 'failed';

/**
 * Opens the out-of-band report stream (OpenRcaService/StreamCoreMetrics) on an endpoint's own
 * channel, asking for a report every `periodMs`. Returns a function that cancels it. `onEnd` is
 * told once how it ended: 'unsupported' when the server does not offer the service.
 */
export function streamLoadReports(
  channel: ChannelInterface,
  periodMs: number,
  onReport: (report: LoadReport) => void,
  onEnd: (end: ReportStreamEnd) => void,
): () => void {
  const { path, serialize, deserialize } = orca();
  // A client over the endpoint's channel, never closed: closing it would close that channel.
  const client = new Client('orca', credentials.createInsecure(), { channelOverride: channel });
  const seconds = Math.floor(periodMs / 1000);
  const request = { report_interval: { seconds, nanos: Math.round((periodMs - seconds * 1000) * 1e6) } };
  let cancelled = false;
  let ended = false;
  const call: ClientReadableStream<RawReport> = client.makeServerStreamRequest(path, serialize, deserialize, request, new Metadata(), {});
  const end = (how: ReportStreamEnd) => {
    if (ended) return;
    ended = true;
    onEnd(how);
  };
  call.on('data', (raw: RawReport) => onReport(toReport(raw)));
  call.on('error', (error: ServiceError) => {
    end(cancelled ? 'cancelled' : error.code === Status.UNIMPLEMENTED ? 'unsupported' : 'failed');
  });
  call.on('status', () => end(cancelled ? 'cancelled' : 'failed'));
  return () => {
    cancelled = true;
    call.cancel();
  };
}
