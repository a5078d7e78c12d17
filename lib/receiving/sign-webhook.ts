import { WebhookSigner, type WebhookSignatureHeaders } from '../delivery/webhook-signer.js';
import { createId } from '../storage/ids.js';
import { ANY_STRING, checkFields, checkString, NON_EMPTY } from '../webhooks.arguments.js';

/** What `signWebhook` may be told: the message id and the time to sign with. */
export interface SignWebhookOptions {
  /** The `webhook-id`; default a new `msg_…` id. */
  id?: string;
  /** The `webhook-timestamp`: a `Date` or unix seconds; default now. */
  timestamp?: Date | number;
}

const CALL = 'signWebhook';
const OPTIONS = ['id', 'timestamp'] as const;

/**
 * The three Standard Webhooks headers for `body`, signed with `secret` (`whsec_…`) exactly as
 * the sender signs its attempts: for tests of a receiver, yours or one behind `@VerifyWebhook`.
 * Sign the very string you send: a body serialized again may differ from the signed one.
 */
export function signWebhook(
  secret: string,
  body: string,
  options: SignWebhookOptions = {},
): WebhookSignatureHeaders & Record<string, string> {
  checkString(body, { call: CALL, argument: 'body' }, ANY_STRING);
  checkFields(options, { call: CALL, argument: 'options' }, OPTIONS, true);
  const { id = createId('msg'), timestamp = new Date() } = options;
  checkString(id, { call: CALL, argument: 'options.id' }, NON_EMPTY);
  const seconds = timestamp instanceof Date ? Math.floor(timestamp.getTime() / 1000) : timestamp;
  return new WebhookSigner([secret]).headers(id, seconds, body);
}
