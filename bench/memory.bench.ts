import 'reflect-metadata';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { addEndpoints, createBenchApp, EVENT, PAYLOAD } from './delivery-app.js';

// Part 3 of `npm run bench:delivery`, in a process of its own (forked with --expose-gc, or run
// alone: `node --expose-gc .bench-out/bench/memory.bench.js`): the heap that BENCH_PENDING
// (100,000) pending deliveries hold while their receiver is down. The app runs with its
// defaults (http transport, default retry schedule); its 8 endpoints point at a loopback port
// nothing listens on, so every attempt is refused and a retry is scheduled 5 s (±20%) later.
// Two readings, each after a full collection, against the app before the first emit:
// - queued: right after the emits, before any attempt has come back (deliveries, messages and
//   queue entries only);
// - attempted: once every delivery's first attempt has failed and its retry is scheduled (the
//   steady state of a receiver that is down: each delivery also holds its attempt log).

export interface MemoryReport {
  pending: number;
  /** Heap growth once every delivery has failed its first attempt, MB. */
  heapMB: number;
  /** Heap growth right after the emits, MB. */
  queuedHeapMB: number;
  /** RSS growth at the `attempted` reading, MB. */
  rssMB: number;
}

const ENDPOINTS = 8;
const PENDING = Number(process.env.BENCH_PENDING ?? 100_000);
const EMITS = Math.ceil(PENDING / ENDPOINTS);
const MB = 1024 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function collect() {
  // Several passes: finalizers and weak references free more on the second one.
  for (let i = 0; i < 3; i++) gc!();
  return process.memoryUsage();
}

/** A loopback port that nothing listens on (bound, read, released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function main(): Promise<MemoryReport> {
  const port = await closedPort();
  const { app, emitter, endpoints, deliveries } = await createBenchApp({
    allowedNetworks: ['127.0.0.0/8'],
    // close() must not wait for attempts to a receiver that is down.
    shutdownTimeout: 0,
  });
  await addEndpoints(endpoints, `http://127.0.0.1:${port}`, ENDPOINTS);

  let firstAttempts = 0;
  let attempts = 0;
  let delivered = 0;
  let resolveAttempted!: () => void;
  const attempted = new Promise<void>((resolve) => (resolveAttempted = resolve));
  const subscription = deliveries.events.subscribe((event) => {
    if (event.type === 'delivered') delivered++;
    if (event.type !== 'attempt-failed') return;
    attempts++;
    if (event.attempt.attempt === 1 && ++firstAttempts === EMITS * ENDPOINTS) resolveAttempted();
  });

  const before = collect();
  const started = performance.now();
  // The emits only ever await promises that are already settled, so no attempt's I/O can come
  // back before the loop ends: the first reading sees every delivery queued, none attempted.
  for (let i = 0; i < EMITS; i++) await emitter.emit(EVENT, PAYLOAD);
  const emitMs = performance.now() - started;
  const queued = collect();

  const timeout = setTimeout(() => {
    console.error(`  memory: only ${firstAttempts} first attempts failed after 240 s`);
    process.exit(1);
  }, 240_000);
  await attempted;
  clearTimeout(timeout);
  const attemptMs = performance.now() - started;
  const after = collect();

  const pending = (await deliveries.list({ status: 'pending', limit: Infinity })).length;
  subscription.unsubscribe();
  const report: MemoryReport = {
    pending,
    heapMB: (after.heapUsed - before.heapUsed) / MB,
    queuedHeapMB: (queued.heapUsed - before.heapUsed) / MB,
    rssMB: (after.rss - before.rss) / MB,
  };
  const perDelivery = (usage: NodeJS.MemoryUsage) =>
    Math.round((usage.heapUsed - before.heapUsed) / (EMITS * ENDPOINTS));
  console.log(
    `  ${EMITS.toLocaleString('en-US')} emits x ${ENDPOINTS} endpoints in ${emitMs.toFixed(0)} ms; ` +
      `every first attempt refused after ${attemptMs.toFixed(0)} ms ` +
      `(${attempts.toLocaleString('en-US')} attempts in all, ${delivered} delivered)`,
  );
  console.log(
    `  heap before ${(before.heapUsed / MB).toFixed(1)} MB, queued ` +
      `+${report.queuedHeapMB.toFixed(1)} MB (${perDelivery(queued)} B/delivery), ` +
      `attempted +${report.heapMB.toFixed(1)} MB (${perDelivery(after)} B/delivery); ` +
      `rss ${(before.rss / MB).toFixed(0)} -> ${(after.rss / MB).toFixed(0)} MB; ` +
      `${pending.toLocaleString('en-US')} deliveries pending`,
  );
  await app.close();
  return report;
}

const report = await main();
if (process.send) process.send(report, () => process.exit(0));
else {
  console.log(
    `memory: ${report.pending.toLocaleString('en-US')} pending deliveries hold ` +
      `${report.heapMB.toFixed(0)} MB (target <= 200 MB)`,
  );
  process.exit(0);
}
