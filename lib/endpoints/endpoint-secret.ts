import { randomBytes } from 'node:crypto';
import { invalidWebhookSecret } from '../webhooks.messages.js';

/** Prefix that marks a Standard Webhooks secret. */
export const SECRET_PREFIX = 'whsec_';

// Standard Webhooks bounds the key: under 24 bytes is guessable, over 64 exceeds the
// HMAC-SHA256 block and would be hashed down anyway.
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;
const GENERATED_KEY_BYTES = 32;

/** A new random secret: `whsec_` + the base64 of 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(GENERATED_KEY_BYTES).toString('base64');
}

/** Decodes a `whsec_<base64>` secret into its key bytes; throws if it is malformed. */
export function parseSecret(secret: string): Buffer {
  // Errors describe the secret's shape only: they end up in logs and HTTP responses.
  if (typeof secret !== 'string') {
    throw new Error(invalidWebhookSecret(`expected a string, got ${typeof secret}`));
  }
  if (!secret.startsWith(SECRET_PREFIX)) {
    throw new Error(invalidWebhookSecret(`it does not start with '${SECRET_PREFIX}'`));
  }
  const encoded = secret.slice(SECRET_PREFIX.length);
  const key = Buffer.from(encoded, 'base64');
  // Node decodes leniently (url-safe letters, whitespace, missing padding); receivers' verifiers
  // may not, so only the canonical form, which re-encodes to itself, decodes the same everywhere.
  if (key.toString('base64') !== encoded) {
    throw new Error(
      invalidWebhookSecret(
        `the part after '${SECRET_PREFIX}' is not padded standard base64 (A-Z a-z 0-9 + / =)`,
      ),
    );
  }
  checkKeyLength(key, 'it decodes to');
  return key;
}

/** Throws unless `key` has a length Standard Webhooks allows; `what` starts the reason. */
export function checkKeyLength(key: Uint8Array, what: string): void {
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
    throw new Error(invalidWebhookSecret(`${what} ${key.length} bytes`));
  }
}
