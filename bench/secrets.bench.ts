import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { WebhookSigner } from '../lib/delivery/webhook-signer.js';
import { generateSecret } from '../lib/endpoints/endpoint-secret.js';
import { createId } from '../lib/storage/ids.js';
import { SecretSealer } from '../lib/storage/postgres/secret-sealer.js';
import { PAYLOAD } from './delivery-app.js';

// `npm run bench:secrets`: what `store.encryptionKey` adds, in the process, against what every
// attempt does anyway in the same run: signing its request (one HMAC-SHA256 over the bench's
// 109-byte body, with the signer the dispatcher keeps per endpoint). Opening a secret is what
// each read of an endpoint adds (a claim reads its endpoint, so once per attempt); sealing,
// what each write of a secret adds (add, rotate, re-encrypt). Medians of BENCH_SECRETS_ROUNDS
// (7) rounds of BENCH_SECRETS_OPS (50,000) calls each, after one round of warm-up. Only
// prints.

const OPS = Number(process.env.BENCH_SECRETS_OPS ?? 50_000);
const ROUNDS = Number(process.env.BENCH_SECRETS_ROUNDS ?? 7);

const sealer = new SecretSealer([randomBytes(32), randomBytes(32)]);
const secret = generateSecret();
const endpointId = createId('ep');
const sealed = sealer.seal(secret, endpointId);
const signer = new WebhookSigner([secret]);
const body = JSON.stringify(PAYLOAD);
const messageId = createId('msg');
const now = Math.floor(Date.now() / 1000);

/** Microseconds per call of `run`, over OPS calls. */
function time(run: () => unknown): number {
  const start = performance.now();
  for (let i = 0; i < OPS; i++) run();
  return ((performance.now() - start) * 1000) / OPS;
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[values.length >> 1];

if (sealer.open(sealed, endpointId) !== secret) throw new Error('the sealed secret does not open');
const runs = {
  sign: () => signer.headers(messageId, now, body),
  open: () => sealer.open(sealed, endpointId),
  seal: () => sealer.seal(secret, endpointId),
};
const results: Record<keyof typeof runs, number[]> = { sign: [], open: [], seal: [] };
for (let round = 0; round <= ROUNDS; round++) {
  for (const [name, run] of Object.entries(runs) as [keyof typeof runs, () => unknown][]) {
    const us = time(run);
    if (round > 0) results[name].push(us);
  }
}
const [sign, open, seal] = [median(results.sign), median(results.open), median(results.seal)];
console.log(
  `secrets at rest (AES-256-GCM), node ${process.version}, ${OPS} calls x ${ROUNDS} rounds:\n` +
    `  sign one attempt (baseline): ${sign.toFixed(2)} us\n` +
    `  open a secret (per endpoint read): ${open.toFixed(2)} us, ratio ${(open / sign).toFixed(2)}\n` +
    `  seal a secret (per secret written): ${seal.toFixed(2)} us, ratio ${(seal / sign).toFixed(2)}`,
);
