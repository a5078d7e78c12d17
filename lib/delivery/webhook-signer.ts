import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import {
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
} from '../webhooks.constants.js';
import {
  invalidWebhookSecret,
  invalidWebhookTimestamp,
  noWebhookSecrets,
} from '../webhooks.messages.js';

/** Prefix that marks a Standard Webhooks secret. */
export const SECRET_PREFIX = 'whsec_';

// Standard Webhooks bounds the key: under 24 bytes is guessable, over 64 exceeds the
// HMAC-SHA256 block and would be hashed down anyway.
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;
const GENERATED_KEY_BYTES = 32;

/** The Standard Webhooks headers of one delivery attempt. */
export interface WebhookSignatureHeaders {
  [WEBHOOK_ID_HEADER]: string;
  [WEBHOOK_TIMESTAMP_HEADER]: string;
  [WEBHOOK_SIGNATURE_HEADER]: string;
}

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

/**
 * Signs with precomputed keys, for the delivery hot path: one HMAC per key and attempt,
 * no secret parsing. Give it every secret still valid during a rotation, newest first.
 */
export class WebhookSigner {
  // KeyObjects are immutable copies that never print their bytes, and a #private field
  // is not shown by console.log, so a logged signer leaks no key.
  readonly #keys: readonly KeyObject[];

  constructor(secrets: readonly (string | Uint8Array)[]) {
    if (!Array.isArray(secrets) || secrets.length === 0) {
      throw new Error(noWebhookSecrets());
    }
    this.#keys = secrets.map((secret) =>
      createSecretKey(typeof secret === 'string' ? parseSecret(secret) : checkedKey(secret)),
    );
  }

  /** The `webhook-signature` value: `v1,<base64>` per key, space-separated. */
  sign(id: string, timestampSeconds: number, body: string): string {
    checkTimestamp(timestampSeconds);
    const signedPrefix = `${id}.${timestampSeconds}.`;
    let signature = '';
    for (const key of this.#keys) {
      // Feeding the body separately avoids flattening a copy of a large body per key.
      const digest = createHmac('sha256', key).update(signedPrefix).update(body).digest('base64');
      signature += signature ? ` v1,${digest}` : `v1,${digest}`;
    }
    return signature;
  }

  /** The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers of one attempt. */
  headers(id: string, timestampSeconds: number, body: string): WebhookSignatureHeaders {
    return {
      [WEBHOOK_ID_HEADER]: id,
      [WEBHOOK_TIMESTAMP_HEADER]: String(timestampSeconds),
      [WEBHOOK_SIGNATURE_HEADER]: this.sign(id, timestampSeconds, body),
    };
  }
}

/** One-off `webhook-signature` value; prefer a reused `WebhookSigner` on hot paths. */
export function sign(
  secrets: readonly (string | Uint8Array)[],
  id: string,
  timestampSeconds: number,
  body: string,
): string {
  return new WebhookSigner(secrets).sign(id, timestampSeconds, body);
}

/** One-off Standard Webhooks headers; prefer a reused `WebhookSigner` on hot paths. */
export function signatureHeaders(
  secrets: readonly (string | Uint8Array)[],
  id: string,
  timestampSeconds: number,
  body: string,
): WebhookSignatureHeaders {
  return new WebhookSigner(secrets).headers(id, timestampSeconds, body);
}

function checkedKey(key: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array)) {
    throw new Error(invalidWebhookSecret(`expected a string or bytes, got ${typeof key}`));
  }
  checkKeyLength(key, 'the key is');
  return key;
}

function checkKeyLength(key: Uint8Array, what: string): void {
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
    throw new Error(invalidWebhookSecret(`${what} ${key.length} bytes`));
  }
}

// A fractional or negative timestamp would be signed as written but parsed as an integer by
// receivers (the reference verifier uses parseInt), so every signature would fail to verify.
function checkTimestamp(timestampSeconds: number): void {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new Error(invalidWebhookTimestamp(timestampSeconds));
  }
}
