import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { countingPool } from './durable-db.js';
import { int, serve } from './durable-process.js';
import { createBenchApp, type BenchApp } from './delivery-app.js';

// Part 3 of `npm run bench:durable`: the worker process of a backlog whose receiver is down,
// forked with --expose-gc. Its app runs on the PostgreSQL store with every endpoint at a
// loopback port nothing listens on, and a first retry 30 min away, so that once every delivery
// has been attempted it waits for its retry with one failed attempt logged. The backlog is
// stored beforehand by another process (`ours-emit`, `worker: false`); this one holds none of it
// until its sweeps bring it in. Two readings, each after full collections: before the backlog
// reaches it (the app made, its store open, the dispatcher not started yet, so what starting it
// allocates counts as growth), and once every first attempt has failed and is recorded.

const SCHEMA = process.env.BENCH_DURABLE_SCHEMA!;
const POOL_SIZE = Number(process.env.BENCH_DURABLE_POOL);
const CONCURRENCY = Number(process.env.BENCH_DURABLE_CONCURRENCY);
const ENDPOINTS = Number(process.env.BENCH_DURABLE_ENDPOINTS);
const MINUTE = 60_000;
const MB = 1024 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

export interface MemoryReading {
  heapUsedMB: number;
  heapTotalMB: number;
  rssMB: number;
  externalMB: number;
}

export interface MemoryReport {
  before: MemoryReading;
  after: MemoryReading;
  /** Highest RSS sampled (every 100 ms) while the backlog was attempted. */
  peakRssMB: number;
  /** Highest heap used sampled with it (garbage included). */
  peakHeapUsedMB: number;
  /** From starting the worker until every first attempt was recorded. */
  ms: number;
  /** This process's CPU over the same span. */
  cpuMs: number;
  firstAttempts: number;
  otherEvents: number;
  /** Deliveries pending with exactly one attempt, counted in the store afterwards. */
  pendingWithOneAttempt: number;
  queries: Record<string, number>;
}

function reading(): MemoryReading {
  // Several passes: what the first one finalizes is freed by the next.
  for (let i = 0; i < 3; i++) gc!();
  const usage = process.memoryUsage();
  return {
    heapUsedMB: usage.heapUsed / MB,
    heapTotalMB: usage.heapTotal / MB,
    rssMB: usage.rss / MB,
    externalMB: usage.external / MB,
  };
}

const { pool, take } = countingPool(POOL_SIZE, 'bench_durable_memory');
let bench: BenchApp;
let before: MemoryReading;
let started = 0;
let cpuStart: NodeJS.CpuUsage;
let firstAttempts = 0;
let otherEvents = 0;
let expected = Infinity;
let resolveAttempted!: () => void;
const attempted = new Promise<void>((resolve) => (resolveAttempted = resolve));
let peakRss = 0;
let peakHeapUsed = 0;
let sampler: NodeJS.Timeout | undefined;

/** Makes the worker app, not started, and takes the first reading. */
async function start(): Promise<MemoryReading> {
  bench = await createBenchApp(
    {
      store: { type: 'postgres', pool, schema: SCHEMA },
      transport: 'undici',
      allowedNetworks: ['127.0.0.0/8'],
      concurrency: CONCURRENCY,
      endpointConcurrency: Math.ceil(CONCURRENCY / ENDPOINTS),
      retryDelays: [30 * MINUTE, 120 * MINUTE],
      // close() need not wait for attempts in flight.
      shutdownTimeout: 0,
    },
    { init: false },
  );
  bench.deliveries.events.subscribe((event) => {
    if (event.type === 'attempt-failed' && event.attempt.attempt === 1) {
      if (++firstAttempts >= expected) resolveAttempted();
    } else {
      otherEvents++;
    }
  });
  before = reading();
  return before;
}

/** Starts the worker; resolves once `count` first attempts have failed, with the second reading. */
async function attemptedAll(count: number): Promise<MemoryReport> {
  expected = count;
  take();
  sampler = setInterval(() => {
    const { rss, heapUsed } = process.memoryUsage();
    peakRss = Math.max(peakRss, rss);
    peakHeapUsed = Math.max(peakHeapUsed, heapUsed);
  }, 100);
  cpuStart = process.cpuUsage();
  started = performance.now();
  await bench.app.init();
  const progress = setInterval(
    () => console.log(`    ... ${int(firstAttempts)} first attempts failed`),
    15_000,
  );
  try {
    await attempted;
  } finally {
    clearInterval(progress);
    clearInterval(sampler);
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const queries = take();
  const after = reading();
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${SCHEMA}.deliveries WHERE status = 'pending' AND attempts = 1`,
  );
  await bench.app.close();
  return {
    before,
    after,
    peakRssMB: Math.max(peakRss, process.memoryUsage().rss) / MB,
    peakHeapUsedMB: peakHeapUsed / MB,
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    firstAttempts,
    otherEvents,
    pendingWithOneAttempt: rows[0].n,
    queries,
  };
}

serve({ start, attemptedAll });
