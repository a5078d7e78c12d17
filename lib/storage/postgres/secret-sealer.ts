import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { WebhookEncryptionKeyError } from '../../webhooks.errors.js';
import { encryptionKeyMissing, secretUnreadable } from '../../webhooks.messages.js';
import type { RetiredSecret } from '../../interfaces/webhook-endpoint.interface.js';

// Endpoint secrets at rest, with `store.encryptionKey`: AES-256-GCM under the newest key, bound
// to their endpoint (its id is the authenticated data, so a value copied into another
// endpoint's row does not open), kept as `enc:v1:<key id>:<iv, ciphertext, tag in base64url>`.
// A value without that prefix was stored as given, before a key was configured.

const PREFIX = 'enc:v1:';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The id of an encryption key, stored beside each value it sealed: the first 16 hex digits of
 * the SHA-256 of its 32 bytes (`echo -n <base64> | base64 -d | sha256sum | cut -c1-16`).
 */
export const encryptionKeyId = (key: Buffer): string =>
  createHash('sha256').update(key).digest('hex').slice(0, 16);

export class SecretSealer {
  private readonly keys = new Map<string, Buffer>();
  private readonly newest: { id: string; key: Buffer } | undefined;

  /** `keys`: 32 bytes each, newest first; none to store secrets as given. */
  constructor(keys: readonly Buffer[]) {
    for (const key of keys) this.keys.set(encryptionKeyId(key), key);
    this.newest = keys.length === 0 ? undefined : { id: encryptionKeyId(keys[0]), key: keys[0] };
  }

  /** Whether secrets are encrypted at all. */
  get encrypts(): boolean {
    return this.newest !== undefined;
  }

  /** `secret` as it is stored for the endpoint `endpointId`: sealed under the newest key. */
  seal(secret: string, endpointId: string): string {
    if (!this.newest) return secret;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.newest.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(endpointId));
    const sealed = Buffer.concat([iv, cipher.update(secret, 'utf8'), cipher.final()]);
    return `${PREFIX}${this.newest.id}:${Buffer.concat([sealed, cipher.getAuthTag()]).toString('base64url')}`;
  }

  /**
   * The secret a stored `value` of endpoint `endpointId` holds; a `WebhookEncryptionKeyError`
   * naming the key id when that key is not in the list or the value does not open under it.
   */
  open(value: string, endpointId: string): string {
    if (!value.startsWith(PREFIX)) return value;
    const separator = value.indexOf(':', PREFIX.length);
    const id = value.slice(PREFIX.length, separator < 0 ? undefined : separator);
    const key = this.keys.get(id);
    if (separator < 0 || !key) {
      throw new WebhookEncryptionKeyError(
        encryptionKeyMissing(endpointId, id, [...this.keys.keys()]),
        id,
      );
    }
    const data = Buffer.from(value.slice(separator + 1), 'base64url');
    try {
      const decipher = createDecipheriv(ALGORITHM, key, data.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(endpointId));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const text = data.subarray(IV_BYTES, data.length - TAG_BYTES);
      return Buffer.concat([decipher.update(text), decipher.final()]).toString('utf8');
    } catch {
      // Node's own message says nothing more; the value itself is never shown.
      throw new WebhookEncryptionKeyError(secretUnreadable(endpointId, id), id);
    }
  }

  /**
   * An endpoint's stored secrets opened: what does not open is left out and reported as
   * `unreadable` (a retired secret past its grace period, which signs nothing, is simply left
   * out), so that one endpoint whose key is gone does not fail the reads of the others.
   */
  openEndpoint(
    endpointId: string,
    secret: string,
    retired: readonly RetiredSecret[],
    now: number,
  ): { secret: string; retired: RetiredSecret[]; unreadable?: WebhookEncryptionKeyError } {
    let unreadable: WebhookEncryptionKeyError | undefined;
    // `report`: whether a value that does not open makes the endpoint unreadable.
    const attempt = (value: string, report: boolean) => {
      try {
        return this.open(value, endpointId);
      } catch (error) {
        if (!(error instanceof WebhookEncryptionKeyError)) throw error;
        if (report) unreadable ??= error;
        return undefined;
      }
    };
    const current = attempt(secret, true);
    const opened: RetiredSecret[] = [];
    for (const entry of retired) {
      const value = attempt(entry.secret, entry.expiresAt.getTime() > now);
      if (value !== undefined) opened.push({ secret: value, expiresAt: entry.expiresAt });
    }
    return { secret: current ?? '', retired: opened, ...(unreadable && { unreadable }) };
  }

  /** Whether a stored `value` is sealed under the newest key (none is, without keys). */
  isCurrent(value: string): boolean {
    return this.newest !== undefined && value.startsWith(`${PREFIX}${this.newest.id}:`);
  }
}
