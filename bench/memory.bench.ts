import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { addEndpoints, createBenchApp, EVENT, PAYLOAD, Receiver } from './delivery-app.js';

// Part 3 of `npm run bench:delivery`, in a process of its own (forked with --expose-gc, or run
// alone: `node --expose-gc .bench-out/bench/memory.bench.js`): the heap that BENCH_PENDING
// (100,000) pending deliveries hold while their receiver is down.
//
// The receiver is "down behind its proxy": it answers every request 503 at once (a port that
// refuses connections would do as well, but on loopback each refused connect costs ~2 ms here,
// so 100,000 first attempts would take minutes). The app runs with its defaults except the
// retry schedule, whose first retry is 5 min instead of 5 s, so that at the second reading every
// delivery holds exactly one failed attempt (the schedule's length does not change memory).
// Two readings, each after full collections, against the app before the first emit:
// - queued: right after the emits, before any attempt has come back (messages, deliveries and
//   queue entries only);
// - attempted: once every delivery's first attempt has failed and its retry is scheduled (what
//   a down receiver leaves behind: each pending delivery also holds its attempt log).

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
const MINUTE = 60_000;
const ATTEMPT_TIMEOUT_MS = 600_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function collect() {
  // Several passes: what the first one finalizes is freed by the next.
  for (let i = 0; i < 3; i++) gc!();
  return process.memoryUsage();
}

const int = (value: number) => Math.round(value).toLocaleString('en-US');

async function main(receiver: Receiver): Promise<MemoryReport> {
  const { app, emitter, endpoints, deliveries } = await createBenchApp({
    allowedNetworks: ['127.0.0.0/8'],
    retryDelays: [5 * MINUTE, 30 * MINUTE, 120 * MINUTE],
    // close() need not wait for attempts in flight.
    shutdownTimeout: 0,
  });
  await addEndpoints(endpoints, receiver.downUrl, ENDPOINTS);
  const deliveriesExpected = EMITS * ENDPOINTS;

  let firstAttempts = 0;
  let otherEvents = 0;
  let resolveAttempted!: () => void;
  const attempted = new Promise<void>((resolve) => (resolveAttempted = resolve));
  const subscription = deliveries.events.subscribe((event) => {
    if (event.type === 'attempt-failed' && event.attempt.attempt === 1) {
      if (++firstAttempts === deliveriesExpected) resolveAttempted();
    } else {
      otherEvents++;
    }
  });

  const before = collect();
  const started = performance.now();
  const cpu = process.cpuUsage();
  // The emits only ever await promises that are already settled, so no attempt's I/O can come
  // back before the loop ends: the first reading sees every delivery queued, none attempted.
  for (let i = 0; i < EMITS; i++) await emitter.emit(EVENT, PAYLOAD);
  const emitMs = performance.now() - started;
  const queued = collect();

  const progress = setInterval(
    () => console.log(`  ... ${int(firstAttempts)} first attempts failed`),
    10_000,
  );
  const timeout = setTimeout(() => {
    console.error(`  memory: only ${firstAttempts} first attempts failed in time`);
    process.exit(1);
  }, ATTEMPT_TIMEOUT_MS);
  await attempted;
  clearTimeout(timeout);
  clearInterval(progress);
  const attemptMs = performance.now() - started;
  const cpuMs = process.cpuUsage(cpu);
  const after = collect();

  subscription.unsubscribe();
  const pending = (await deliveries.list({ status: 'pending', limit: Infinity })).length;
  const report: MemoryReport = {
    pending,
    heapMB: (after.heapUsed - before.heapUsed) / MB,
    queuedHeapMB: (queued.heapUsed - before.heapUsed) / MB,
    rssMB: (after.rss - before.rss) / MB,
  };
  const perDelivery = (usage: NodeJS.MemoryUsage) =>
    (usage.heapUsed - before.heapUsed) / deliveriesExpected;
  const perAttempt = perDelivery(after) - perDelivery(queued);
  const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
  console.log(
    `  ${int(EMITS)} emits x ${ENDPOINTS} endpoints in ${int(emitMs)} ms; every first attempt ` +
      `answered 503 after ${int(attemptMs)} ms (process cpu ${int((cpuMs.user + cpuMs.system) / 1000)} ms` +
      `${otherEvents ? `, ${otherEvents} other events` : ''}); ${int(pending)} deliveries pending`,
  );
  console.log(
    `  heap used: before ${mb(before.heapUsed)}, queued +${mb(queued.heapUsed - before.heapUsed)} ` +
      `(${int(perDelivery(queued))} B/delivery), attempted +${mb(after.heapUsed - before.heapUsed)} ` +
      `(${int(perDelivery(after))} B/delivery, so ${int(perAttempt)} B per logged attempt)`,
  );
  console.log(
    `  heap total ${mb(before.heapTotal)} -> ${mb(after.heapTotal)}, rss ${mb(before.rss)} -> ` +
      `${mb(after.rss)} (rss keeps what the heap grew to while attempts ran), ` +
      `external ${mb(before.external)} -> ${mb(after.external)}`,
  );
  console.log(
    `  with all 10 attempts of the default schedule logged, ${int(deliveriesExpected)} pending ` +
      `deliveries would hold about ${mb((perDelivery(queued) + 10 * perAttempt) * deliveriesExpected)}`,
  );
  await app.close();
  return report;
}

const receiver = await Receiver.start();
let report: MemoryReport;
try {
  report = await main(receiver);
} finally {
  await receiver.stop();
}
if (process.send) {
  process.send(report, () => process.exit(0));
} else {
  console.log(
    `memory: ${int(report.pending)} pending deliveries hold ${report.heapMB.toFixed(0)} MB ` +
      `(target <= 200 MB)`,
  );
}
