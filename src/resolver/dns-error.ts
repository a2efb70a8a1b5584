/** Why a resolution failed. NXDOMAIN and NODATA mean "no instances"; the rest are failures to resolve. */
export type DnsErrorCode = 'NXDOMAIN' | 'NODATA' | 'SERVFAIL' | 'REFUSED' | 'FORMERR' | 'NOTIMP' | 'TIMEOUT' | 'BADRESPONSE' | 'NETWORK' | 'ABORTED';

export class DnsError extends Error {
  override readonly name = 'DnsError';
  constructor(
    message: string,
    readonly code: DnsErrorCode,
  ) {
    super(message);
  }
}

export function isDnsError(error: unknown): error is DnsError {
  return error instanceof DnsError;
}

/** Whether an error says the name has no records (as opposed to a failure to find out). */
export function isNoRecords(error: unknown): boolean {
  return error instanceof DnsError && (error.code === 'NXDOMAIN' || error.code === 'NODATA');
}
