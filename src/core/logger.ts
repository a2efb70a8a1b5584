/**
 * The logging hook: pino's (and bunyan's) call shape, so a pino logger or child logger fits as is.
 * The library never logs secrets: tokens stay out of every field and message.
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

const ignore = (): void => undefined;

/** The default: says nothing. */
export const silentLogger: Logger = Object.freeze({ debug: ignore, info: ignore, warn: ignore, error: ignore });
