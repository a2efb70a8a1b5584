// Quoting user input in messages. Input reaches error messages, call statuses and log lines;
// quoted whole it can be megabytes long, carry CR/LF that forge log lines, or carry a secret.

/** Longest excerpt of user input a message quotes; enough to recognise a target or an address. */
export const MAX_EXCERPT_CHARS = 120;

// Query parameters, header-like keys and userinfo that carry credentials, whatever their case or
// percent-encoding. Matched on the decoded-lowercased form, removed from the original text.
const SECRET_KEYS = ['token', 'x-consul-token', 'password', 'passwd', 'secret', 'auth', 'authorization', 'apikey', 'api-key', 'api_key', 'access_token', 'acl'];
const REDACTED = '[redacted]';

/**
 * `text` with every credential it may carry replaced by "[redacted]": the value of any query
 * parameter or `key=value` pair whose key names a secret (in any case, percent-encoded or not),
 * and the userinfo of a URL (`user:pass@`). Also removes each string in `known` wherever it
 * appears (a token the caller holds).
 */
export function redactSecrets(text: string, known?: readonly (string | undefined)[]): string {
  let out = text;
  if (known) {
    for (const secret of known) if (secret) out = out.split(secret).join(REDACTED);
  }
  // key=value pairs: the key may be percent-encoded (%74oken) or mixed case.
  out = out.replace(/([?&;#\s,]|^)([^=?&;#\s,]{1,64})=([^&;#\s,]*)/g, (whole, lead: string, key: string) =>
    isSecretKey(key) ? `${lead}${key}=${REDACTED}` : whole,
  );
  // scheme://user:password@host or //user@host: the userinfo is a credential either way.
  out = out.replace(/(\/\/)[^/?#@\s]*@/g, `$1${REDACTED}@`);
  return out;
}

function isSecretKey(key: string): boolean {
  let decoded = key;
  try {
    decoded = decodeURIComponent(key);
  } catch {
    // A key with a malformed escape is still compared as written.
  }
  const lower = decoded.toLowerCase();
  return SECRET_KEYS.includes(lower) || lower.endsWith('token') || lower.endsWith('password') || lower.endsWith('secret');
}

/**
 * A bounded, escaped, secret-free excerpt of user input, in double quotes, for a message:
 * control characters and quotes escaped (no forged log lines), credentials redacted, cut to
 * `max` characters with the full length said.
 */
export function excerpt(value: unknown, max: number = MAX_EXCERPT_CHARS): string {
  const text = redactSecrets(stringOf(value));
  const cut = text.length > max ? text.slice(0, max) : text;
  const escaped = JSON.stringify(cut);
  return text.length > max ? `${escaped}… (${text.length} chars)` : escaped;
}

/** What a value of any type looks like in a message, without throwing (BigInt, symbols, cycles). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return excerpt(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  switch (typeof value) {
    case 'function':
      return 'a function';
    case 'object':
      return 'an object';
    case 'bigint':
      return `${value}n (a bigint)`;
    case 'symbol':
      return 'a symbol';
    default:
      return String(value);
  }
}

function stringOf(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
