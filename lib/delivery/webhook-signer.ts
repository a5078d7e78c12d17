import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { checkKeyLength, parseSecret } from '../endpoints/endpoint-secret.js';
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

/** The Standard Webhooks headers of one delivery attempt. */
export interface WebhookSignatureHeaders {
  [WEBHOOK_ID_HEADER]: string;
  [WEBHOOK_TIMESTAMP_HEADER]: string;
  [WEBHOOK_SIGNATURE_HEADER]: string;
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

  /**
   * The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers of one attempt, in a
   * new object the caller may add its other headers to.
   */
  headers(
    id: string,
    timestampSeconds: number,
    body: string,
  ): WebhookSignatureHeaders & Record<string, string> {
    return {
      [WEBHOOK_ID_HEADER]: id,
      [WEBHOOK_TIMESTAMP_HEADER]: String(timestampSeconds),
      [WEBHOOK_SIGNATURE_HEADER]: this.sign(id, timestampSeconds, body),
    };
  }
}

function checkedKey(key: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array)) {
    throw new Error(invalidWebhookSecret(`expected a string or bytes, got ${typeof key}`));
  }
  checkKeyLength(key, 'the key is');
  return key;
}

// A fractional or negative timestamp would be signed as written but parsed as an integer by
// receivers (the reference verifier uses parseInt), so every signature would fail to verify.
function checkTimestamp(timestampSeconds: number): void {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new Error(invalidWebhookTimestamp(timestampSeconds));
  }
}
