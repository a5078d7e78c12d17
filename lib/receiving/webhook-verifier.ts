import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseSecret } from '../endpoints/endpoint-secret.js';
import {
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
} from '../webhooks.constants.js';
import {
  webhookHeaderMalformed,
  webhookHeaderMissing,
  webhookNoSecret,
  webhookNoV1Signature,
  webhookSignatureMismatch,
  webhookTimestampOutside,
} from '../webhooks.messages.js';

// Standard Webhooks verification of one request against its raw bytes: the signed content is
// `<webhook-id>.<webhook-timestamp>.<body>`, HMAC-SHA256 under each secret, compared in constant
// time with each `v1,<base64>` signature of the header (a sender that rotates sends several;
// signatures of other versions are skipped). Nothing in a rejection is derived from a secret.

/** The headers of a request that verified. */
export interface VerifiedWebhookHeaders {
  /** `webhook-id`: the message's id, the same on every attempt of it. */
  id: string;
  /** `webhook-timestamp`: when this attempt was signed. */
  timestamp: Date;
}

/** Why a request was refused: 400 for headers missing or malformed, 401 for the rest. */
export interface WebhookRejection {
  status: 400 | 401;
  message: string;
}

type Headers = Record<string, string | string[] | undefined>;

// Bounds on what a sender sends, so that a hostile header costs nothing to refuse.
const MAX_ID_LENGTH = 256;
const MAX_SIGNATURES = 16;
const SIGNATURE_BYTES = 32;
const TIMESTAMP = /^\d{1,15}$/;

/** The key bytes of `whsec_…` secrets; throws naming the position of a malformed one. */
export function secretKeys(secrets: readonly string[], name: string): Buffer[] {
  return secrets.map((secret, index) => {
    try {
      return parseSecret(secret);
    } catch (error) {
      const where = secrets.length === 1 ? name : `${name}[${index}]`;
      throw new Error(`${where}: ${(error as Error).message}`);
    }
  });
}

/** The Standard Webhooks headers of a request, read and checked for shape. */
export interface WebhookRequestHeaders {
  id: string;
  timestamp: string;
  /** The `v1` signatures of the header, decoded; other versions left out. */
  signatures: Buffer[];
}

/** The request's Standard Webhooks headers, or why they are missing or malformed (400). */
export function readWebhookHeaders(headers: Headers): WebhookRequestHeaders | WebhookRejection {
  const id = header(headers, WEBHOOK_ID_HEADER);
  const timestamp = header(headers, WEBHOOK_TIMESTAMP_HEADER);
  const signature = header(headers, WEBHOOK_SIGNATURE_HEADER);
  const missing = [
    [WEBHOOK_ID_HEADER, id],
    [WEBHOOK_TIMESTAMP_HEADER, timestamp],
    [WEBHOOK_SIGNATURE_HEADER, signature],
  ].flatMap(([name, value]) => (value === undefined ? [name as string] : []));
  if (id === undefined || timestamp === undefined || signature === undefined) {
    return { status: 400, message: webhookHeaderMissing(missing) };
  }
  if (id.length > MAX_ID_LENGTH || /\s/.test(id)) {
    return {
      status: 400,
      message: webhookHeaderMalformed(
        WEBHOOK_ID_HEADER,
        'an id of up to 256 characters, without spaces',
      ),
    };
  }
  if (!TIMESTAMP.test(timestamp)) {
    return {
      status: 400,
      message: webhookHeaderMalformed(WEBHOOK_TIMESTAMP_HEADER, 'whole seconds since the epoch'),
    };
  }
  const entries = signature.split(' ').filter(Boolean);
  if (
    entries.length === 0 ||
    entries.length > MAX_SIGNATURES ||
    !entries.every((entry) => entry.includes(','))
  ) {
    return {
      status: 400,
      message: webhookHeaderMalformed(
        WEBHOOK_SIGNATURE_HEADER,
        'space-separated <version>,<base64> signatures, at most 16',
      ),
    };
  }
  const signatures = entries
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3), 'base64'))
    .filter((bytes) => bytes.length === SIGNATURE_BYTES);
  return { id, timestamp, signatures };
}

/** What verified: the headers, and every one of `keys` that signed, in their order. */
export interface SignatureMatch {
  headers: VerifiedWebhookHeaders;
  signers: Buffer[];
}

/**
 * Checks the timestamp (within `toleranceSeconds` of `nowMs`, either way, to the millisecond)
 * and the signatures over `body` under `keys`: what verified, or why not (401).
 */
export function verifyWebhook(
  body: Buffer,
  request: WebhookRequestHeaders,
  keys: readonly Buffer[],
  toleranceSeconds: number,
  nowMs: number,
): SignatureMatch | WebhookRejection {
  const { id, timestamp, signatures } = request;
  const signedAtMs = Number(timestamp) * 1000;
  const skewMs = nowMs - signedAtMs;
  if (Math.abs(skewMs) > toleranceSeconds * 1000) {
    return {
      status: 401,
      message: webhookTimestampOutside(Math.trunc(skewMs / 1000), toleranceSeconds),
    };
  }
  if (signatures.length === 0) return { status: 401, message: webhookNoV1Signature() };
  if (keys.length === 0) return { status: 401, message: webhookNoSecret() };

  const signed = `${id}.${timestamp}.`;
  const signers: Buffer[] = [];
  // Every pair is compared, match or not, so the time taken says nothing of which one matched.
  for (const key of keys) {
    const expected = createHmac('sha256', key).update(signed).update(body).digest();
    let matches = false;
    for (const candidate of signatures) matches = timingSafeEqual(expected, candidate) || matches;
    if (matches) signers.push(key);
  }
  if (signers.length === 0) return { status: 401, message: webhookSignatureMismatch() };
  return { headers: { id, timestamp: new Date(signedAtMs) }, signers };
}

/** A header's one value; a header sent twice is malformed, and counts as missing here. */
function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
