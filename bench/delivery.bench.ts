import 'reflect-metadata';
import { HttpService } from '@nestjs/axios';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { fork } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { firstValueFrom } from 'rxjs';
import { Pool } from 'undici';
import {
  addEndpoints,
  countDeliveries,
  createBenchApp,
  EVENT,
  OrderPlaced,
  PAYLOAD,
  Receiver,
  withTimeout,
} from './delivery-app.js';
import type { MemoryReport } from './memory.bench.js';

// `npm run bench:delivery`: delivery throughput of both transports against a raw loop with the
// same client, `emit()` against a bare validate + stringify, and the memory that 100,000 pending
// deliveries hold. It only prints; nothing here fails on a slow number. Only loopback traffic.
//
// 1. Throughput. The receiver (`receiver-process.ts`) runs in its own process: 204 at once,
//    keep-alive. Ours: a fresh app per run with `WebhooksModule.forRoot({ allowedNetworks,
//    transport })` and otherwise default options, 8 endpoints (paths) on the receiver, 2,000
//    sequential emits; timed from the first emit until `WebhookDeliveries.events` has shown
//    16,000 `delivered`. Raw: 16,000 requests, 64 at a time, with the same client
//    (`HttpService.post` over a keep-alive agent, or an undici `Pool`), body, headers and a
//    Standard Webhooks HMAC-SHA256 signature computed per request. Each run checks that the
//    receiver answered exactly as many requests. Each side of each transport runs in a worker
//    process of its own (see `startSideWorker`), driven run by run from here. Full-size
//    warm-up runs of each side come first, until its cost per delivery is steady (`warmUp`);
//    then ROUNDS rounds, alternating which side goes first. The ratio is the median of the
//    rounds' ratios, each of a run of ours and the raw run beside it in time, so that the
//    machine speeding up or slowing down between rounds (it does, by up to 2x here) cancels
//    out; the range of the rounds' ratios is printed beside it. "cpu/op" is the worker's CPU
//    time per delivery, steadier than wall time on a busy machine.
// 2. emit(). The measured app is created but never initialised (`app.init()` is not called), so
//    the dispatcher never starts: every emit is validated, serialized, stored and queued for its
//    8 endpoints, and nothing else runs on the event loop. That is emit() alone, the receiver
//    "paused" upstream of the network. For reference it is also measured in a running app whose
//    endpoints point at a receiver that never answers (the first attempts fill the concurrency
//    limits, then the dispatcher idles). Baseline: plainToInstance + validate + JSON.stringify of
//    the same payload, awaited one at a time like the emits. Each of the three runs in a worker
//    process of its own, warmed up like the throughput sides; a round runs them in the order
//    paused, bare, hanging, or the reverse, so that bare sits beside both runs it is compared to.
// 3. Memory, in a fresh process: see `memory.bench.ts`.
//
// Environment overrides: BENCH_EMITS (2000), BENCH_ROUNDS (5), BENCH_WARMUP_MAX (8),
// BENCH_TRANSPORTS (http,undici), BENCH_EMIT_OPS (20000), BENCH_PENDING (100000),
// BENCH_SKIP_MEMORY=1.

const EMITS = Number(process.env.BENCH_EMITS ?? 2000);
const ENDPOINTS = 8;
const DELIVERIES = EMITS * ENDPOINTS;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WARMUP_MIN = 4;
const WARMUP_MAX = Math.max(WARMUP_MIN, Number(process.env.BENCH_WARMUP_MAX ?? 8));
const TRANSPORTS = (process.env.BENCH_TRANSPORTS ?? 'http,undici')
  .split(',')
  .map((name) => name.trim())
  .filter(Boolean)
  .map((name) => {
    if (name === 'http' || name === 'undici') return name;
    throw new Error(`BENCH_TRANSPORTS: unknown transport "${name}"; use http, undici or both`);
  });
const RAW_CONCURRENCY = 64;
const EMIT_OPS = Number(process.env.BENCH_EMIT_OPS ?? 20_000);
const PENDING = Number(process.env.BENCH_PENDING ?? 100_000);
const RUN_TIMEOUT_MS = 120_000;
const USER_AGENT = 'nestjs-webhooks/0.1.0 (+https://www.standardwebhooks.com)';
const ALLOWED = { allowedNetworks: ['127.0.0.0/8'] };

type Transport = 'http' | 'undici';

interface Sample {
  /** Wall-clock milliseconds. */
  ms: number;
  /** This process's CPU milliseconds (user + system) over the same span. */
  cpu: number;
  /** Operations completed in the span. */
  ops: number;
  /** Connections the receiver accepted during the span. */
  connections?: number;
}

const rate = (sample: Sample) => sample.ops / (sample.ms / 1000);
/** CPU microseconds of this process per operation. */
const cpuPerOp = (sample: Sample) => (sample.cpu * 1000) / sample.ops;

/** Starts a measurement of `ops` operations; calling the result ends it. */
function stopwatch(ops: number): () => Sample {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  return () => {
    const ms = performance.now() - start;
    const cpu = process.cpuUsage(cpuStart);
    return { ms, cpu: (cpu.user + cpu.system) / 1000, ops };
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const int = (value: number) => Math.round(value).toLocaleString('en-US');
const medianRate = (samples: Sample[]) => median(samples.map(rate));

/** `ours` over `baseline`, round by round: the median and the range of the rounds' ratios. */
function pairedRatio(ours: Sample[], baseline: Sample[]): string {
  const ratios = ours.map((sample, round) => rate(sample) / rate(baseline[round]));
  const [low, high] = [Math.min(...ratios), Math.max(...ratios)];
  return `ratio ${median(ratios).toFixed(2)} (rounds ${low.toFixed(2)}-${high.toFixed(2)})`;
}

/**
 * Runs `run` and checks that the receiver answered exactly `expected` requests meanwhile;
 * notes how many new connections it took.
 */
async function counted(
  receiver: Receiver,
  label: string,
  expected: number,
  run: () => Promise<Sample>,
): Promise<Sample> {
  receiver.reset();
  const sample = await run();
  const counts = await receiver.counts();
  if (counts.ok !== expected) {
    throw new Error(`${label}: the receiver answered ${counts.ok} requests, expected ${expected}`);
  }
  return { ...sample, connections: counts.connections };
}

// ---------------------------------------------------------------------------------------------
// 1. Delivery throughput: ours against a raw loop with the same client.

/** Ours: `emits` emits fanned out to `ENDPOINTS` endpoints, timed until all are delivered. */
async function ours(transport: Transport, baseUrl: string, emits: number): Promise<Sample> {
  const { app, emitter, endpoints, deliveries } = await createBenchApp({ ...ALLOWED, transport });
  await addEndpoints(endpoints, baseUrl, ENDPOINTS);
  const expected = emits * ENDPOINTS;
  const counted = countDeliveries(deliveries, expected);
  try {
    // No forced collection first, here or in `rawLoop`: see `startSideWorker`.
    const stop = stopwatch(expected);
    for (let i = 0; i < emits; i++) await emitter.emit(EVENT, PAYLOAD);
    await withTimeout(counted.done, RUN_TIMEOUT_MS, counted.describe);
    const sample = stop();
    const failures = counted.failures();
    if (failures) console.log(`    (ours ${transport}: ${failures})`);
    // The raw loops send JSON.stringify(PAYLOAD): make sure that is the body ours sent.
    const [last] = await deliveries.list({ limit: 1 });
    const message = last && (await deliveries.getMessage(last.messageId));
    if (message?.body !== JSON.stringify(PAYLOAD)) {
      throw new Error(`ours ${transport} sent ${message?.body}, the raw loops another body`);
    }
    return sample;
  } finally {
    counted.unsubscribe();
    await app.close();
  }
}

/** What the raw loops sign and send: the same body, secrets and headers as a delivery. */
function rawRequests(baseUrl: string) {
  const body = JSON.stringify(PAYLOAD);
  const keys = Array.from({ length: ENDPOINTS }, () => randomBytes(32));
  const paths = Array.from({ length: ENDPOINTS }, (_, i) => `/hooks/${i}`);
  let messageId = '';
  return {
    body,
    path: (i: number) => paths[i % ENDPOINTS],
    url: (i: number) => `${baseUrl}${paths[i % ENDPOINTS]}`,
    /** Standard Webhooks headers of request `i`; every `ENDPOINTS` requests share a message. */
    headers(i: number): Record<string, string> {
      if (i % ENDPOINTS === 0 || !messageId) {
        messageId = `msg_${Date.now().toString(36)}${randomBytes(10).toString('hex')}`;
      }
      const timestamp = Math.floor(Date.now() / 1000);
      const signature = createHmac('sha256', keys[i % ENDPOINTS])
        .update(`${messageId}.${timestamp}.${body}`)
        .digest('base64');
      return {
        'webhook-id': messageId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': `v1,${signature}`,
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
      };
    },
  };
}

/** `count` requests, `RAW_CONCURRENCY` at a time, each sent by `send(i)`. */
async function rawLoop(count: number, send: (i: number) => Promise<number>): Promise<Sample> {
  let next = 0;
  let non2xx = 0;
  const stop = stopwatch(count);
  await Promise.all(
    Array.from({ length: RAW_CONCURRENCY }, async () => {
      while (next < count) {
        const status = await send(next++);
        if (status < 200 || status >= 300) non2xx++;
      }
    }),
  );
  const sample = stop();
  if (non2xx > 0) throw new Error(`raw loop: ${non2xx} answers were not 2xx`);
  return sample;
}

/** Raw `HttpService.post` (the default transport's client) over a keep-alive agent. */
async function rawHttp(baseUrl: string, count: number): Promise<Sample> {
  const http = new HttpService();
  const agent = new HttpAgent({ keepAlive: true });
  const requests = rawRequests(baseUrl);
  try {
    return await rawLoop(count, async (i) => {
      const response = await firstValueFrom(
        http.post(requests.url(i), requests.body, {
          headers: requests.headers(i),
          httpAgent: agent,
          maxRedirects: 0,
          validateStatus: () => true,
        }),
      );
      return response.status;
    });
  } finally {
    agent.destroy();
  }
}

/** Raw undici `Pool` on the receiver's origin. */
async function rawUndici(baseUrl: string, count: number): Promise<Sample> {
  const pool = new Pool(baseUrl, { connections: RAW_CONCURRENCY });
  const requests = rawRequests(baseUrl);
  try {
    return await rawLoop(count, async (i) => {
      const response = await pool.request({
        path: requests.path(i),
        method: 'POST',
        headers: requests.headers(i),
        body: requests.body,
      });
      await response.body.text();
      return response.statusCode;
    });
  } finally {
    await pool.close();
  }
}

interface Pair {
  transport: Transport;
  raw: string;
  ours: Sample[];
  theirs: Sample[];
}

/** What the parent asks a side worker to run: one measured run of one side. */
interface SideRun {
  /** A throughput side (`ours`, `raw`), or an emit() side (`bare`, `paused`, `hanging`). */
  side: 'ours' | 'raw' | EmitSide;
  transport: Transport;
  url: string;
  /** Emits for ours and the emit sides, requests for raw. */
  count: number;
}

type EmitSide = 'bare' | 'paused' | 'hanging';

/**
 * A process that runs one side (ours or the raw loop) of one transport, run after run as the
 * parent asks. Each side has a process of its own: the raw undici loop and the library share
 * the undici module, and in one process V8 optimizes its code for both callers at once, which
 * slowed the library's attempts by half in this bench and happens in no app.
 *
 * With no other side's garbage to keep off the clock, a worker forces no collection before a
 * run: a forced full collection leaves V8 cold, and the run after it took 1.4x (raw undici)
 * to 1.7x (ours) the user CPU per delivery of a run after none, which is not the steady state
 * of a long-running sender.
 */
function startSideWorker(side: SideRun['side'], transport: Transport) {
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: [],
    env: { ...process.env, BENCH_SIDE_WORKER: `${side}:${transport}` },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${side} ${transport} worker exited (${code})`))),
  );
  exited.catch(() => undefined);
  return {
    run(url: string, count: number): Promise<Sample> {
      const answer = new Promise<Sample>((resolve) => child.once('message', resolve));
      child.send({ side, transport, url, count } satisfies SideRun);
      return withTimeout(Promise.race([answer, exited]), RUN_TIMEOUT_MS * 2, () => `${side} run`);
    },
    stop: () => child.kill(),
  };
}

/** The worker side of `startSideWorker`: runs what it is sent, answers with the sample. */
function serveSideRuns() {
  process.on('message', async ({ side, transport, url, count }: SideRun) => {
    const raws = { http: rawHttp, undici: rawUndici };
    let sample: Sample;
    if (side === 'ours') sample = await ours(transport, url, count);
    else if (side === 'raw') sample = await raws[transport](url, count);
    else if (side === 'bare') sample = await bareValidate(count);
    else sample = await emitOnly(url, side, count);
    process.send!(sample);
  });
}

/**
 * Full-size runs, not counted, until one costs no less than 90% of the cheapest before it in CPU
 * per delivery (at least WARMUP_MIN, at most WARMUP_MAX): a webhook sender runs for days, and
 * its steady state is what the rounds compare. The library's path is longer than the raw
 * loop's, and V8 takes several runs (some 50,000 deliveries) to finish optimizing it: after one
 * warm-up run ours still cost twice its steady CPU per delivery, and after two or three it was
 * sometimes still getting cheaper by a few percent a run, so the rounds measured the JIT.
 */
async function warmUp(label: string, run: () => Promise<Sample>): Promise<void> {
  const costs: number[] = [];
  let cheapest = Infinity;
  while (costs.length < WARMUP_MAX) {
    const cost = cpuPerOp(await run());
    costs.push(cost);
    const steady = cost >= cheapest * 0.9;
    cheapest = Math.min(cheapest, cost);
    if (costs.length >= WARMUP_MIN && steady) break;
  }
  console.log(`  warm-up ${label}: ${costs.map(int).join(', ')} us cpu/op`);
}

/** Warm-up, then ROUNDS rounds of ours against the raw loop, for one transport. */
async function throughput(receiver: Receiver, transport: Transport): Promise<Pair> {
  const names = { http: 'raw HttpService', undici: 'raw undici Pool' };
  const pair: Pair = { transport, raw: names[transport], ours: [], theirs: [] };
  const oursWorker = startSideWorker('ours', transport);
  const rawWorker = startSideWorker('raw', transport);
  const runOurs = (emits: number) =>
    counted(receiver, `ours ${transport}`, emits * ENDPOINTS, () =>
      oursWorker.run(receiver.okUrl, emits),
    );
  const runRaw = (count: number) =>
    counted(receiver, pair.raw, count, () => rawWorker.run(receiver.okUrl, count));
  try {
    await warmUp(`${transport} ${pair.raw}`, () => runRaw(DELIVERIES));
    await warmUp(`${transport} ours`, () => runOurs(EMITS));
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which side goes first.
      if (round % 2 === 0) {
        pair.theirs.push(await runRaw(DELIVERIES));
        pair.ours.push(await runOurs(EMITS));
      } else {
        pair.ours.push(await runOurs(EMITS));
        pair.theirs.push(await runRaw(DELIVERIES));
      }
      const [o, t] = [pair.ours.at(-1)!, pair.theirs.at(-1)!];
      const describe = (sample: Sample) =>
        `${int(rate(sample)).padStart(6)}/s (${int(cpuPerOp(sample)).padStart(3)} us cpu/op, ` +
        `${sample.connections} conn)`;
      console.log(
        `  round ${round + 1} ${transport.padEnd(6)} ours ${describe(o)}   ` +
          `${pair.raw} ${describe(t)}   ratio ${(rate(o) / rate(t)).toFixed(2)}`,
      );
    }
  } finally {
    oursWorker.stop();
    rawWorker.stop();
  }
  return pair;
}

// ---------------------------------------------------------------------------------------------
// 2. emit() against validate + stringify.

/** Bare class-validator + JSON: what emit() cannot avoid doing. */
async function bareValidate(ops: number): Promise<Sample> {
  const stop = stopwatch(ops);
  for (let i = 0; i < ops; i++) {
    const instance = plainToInstance(OrderPlaced, PAYLOAD);
    const errors = await validate(instance, { forbidUnknownValues: false });
    if (errors.length > 0) throw new Error('the bench payload does not validate');
    JSON.stringify(instance);
  }
  return stop();
}

/**
 * `ops` sequential emits to `ENDPOINTS` endpoints with nothing draining the queue. `paused`:
 * the app is never initialised, so the dispatcher never starts and every delivery stays queued
 * (emit alone: validate, serialize, store, enqueue). `hanging`: the app runs and its endpoints
 * point at a receiver that never answers, so after the first attempts fill the concurrency
 * limits the dispatcher sits idle while the queue grows.
 */
async function emitOnly(url: string, mode: 'paused' | 'hanging', ops: number) {
  const { app, emitter, endpoints } = await createBenchApp(
    // shutdownTimeout 0: close() need not wait for attempts that will never be answered.
    { ...ALLOWED, shutdownTimeout: 0 },
    { init: mode === 'hanging' },
  );
  await addEndpoints(endpoints, url, ENDPOINTS);
  try {
    const stop = stopwatch(ops);
    for (let i = 0; i < ops; i++) {
      const result = await emitter.emit(EVENT, PAYLOAD);
      if (result.endpoints !== ENDPOINTS) throw new Error(`queued for ${result.endpoints}`);
    }
    return stop();
  } finally {
    await app.close();
  }
}

async function emitThroughput(receiver: Receiver) {
  console.log(
    `2. emit(): ${int(EMIT_OPS)} sequential emits (${ENDPOINTS} endpoints each) against ` +
      `${int(EMIT_OPS)} x plainToInstance + validate + JSON.stringify; each in a process of its own`,
  );
  // The baseline in the middle: each round's bare run sits beside both emit runs it is compared with.
  const sides: EmitSide[] = ['paused', 'bare', 'hanging'];
  const urls = { bare: receiver.okUrl, paused: receiver.okUrl, hanging: receiver.hangUrl };
  const workers = sides.map((side) => startSideWorker(side, 'http'));
  const run = (index: number) => workers[index].run(urls[sides[index]], EMIT_OPS);
  const samples: Record<EmitSide, Sample[]> = { bare: [], paused: [], hanging: [] };
  try {
    for (const [index, side] of sides.entries()) await warmUp(`emit ${side}`, () => run(index));
    for (let round = 0; round < ROUNDS; round++) {
      // Forwards, then backwards: neither emit side always runs first.
      for (let step = 0; step < sides.length; step++) {
        const index = round % 2 === 0 ? step : sides.length - 1 - step;
        samples[sides[index]].push(await run(index));
      }
      const describe = (side: EmitSide) => {
        const sample = samples[side].at(-1)!;
        return `${int(rate(sample))}/s (${cpuPerOp(sample).toFixed(1)} us cpu/op)`;
      };
      console.log(
        `  round ${round + 1} emit, dispatcher not started ${describe('paused')}   ` +
          `emit, receiver hangs ${describe('hanging')}   validate+stringify ${describe('bare')}`,
      );
    }
  } finally {
    for (const worker of workers) worker.stop();
  }
  return samples;
}

// ---------------------------------------------------------------------------------------------
// 3. Memory, in a fresh process so that nothing above is counted.

async function memory(): Promise<MemoryReport> {
  console.log(`3. memory: ${int(PENDING)} pending deliveries, receiver down (fresh process)`);
  const child = fork(fileURLToPath(new URL('./memory.bench.js', import.meta.url)), [], {
    execArgv: ['--expose-gc'],
    env: { ...process.env, BENCH_PENDING: String(PENDING) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const report = new Promise<MemoryReport>((resolve, reject) => {
    child.on('message', (message: MemoryReport) => resolve(message));
    child.once('exit', (code) => reject(new Error(`memory bench exited with ${code}`)));
  });
  return withTimeout(report, 900_000, () => 'memory bench').finally(() => child.kill());
}

// ---------------------------------------------------------------------------------------------

const load = () => os.loadavg()[0].toFixed(1);

async function main() {
  console.log(
    `nestjs-webhooks delivery bench: node ${process.version}, ${os.availableParallelism()} cpus, ` +
      `${ROUNDS} rounds, medians, load average ${load()}`,
  );
  console.log(
    `1. delivery throughput: ${int(EMITS)} emits x ${ENDPOINTS} endpoints = ` +
      `${int(DELIVERIES)} deliveries per run; raw loops ${int(DELIVERIES)} requests, ` +
      `${RAW_CONCURRENCY}-way; ours with default options (concurrency 100, endpointConcurrency ` +
      `10); each side of each transport in a process of its own`,
  );
  const receiver = await Receiver.start();
  let pairs: Pair[];
  let emits: Awaited<ReturnType<typeof emitThroughput>>;
  try {
    pairs = [];
    for (const transport of TRANSPORTS) pairs.push(await throughput(receiver, transport));
    emits = await emitThroughput(receiver);
  } finally {
    await receiver.stop();
  }
  const mem = process.env.BENCH_SKIP_MEMORY === '1' ? undefined : await memory();

  console.log('');
  for (const pair of pairs) {
    const [o, t] = [medianRate(pair.ours), medianRate(pair.theirs)];
    const [oCpu, tCpu] = [median(pair.ours.map(cpuPerOp)), median(pair.theirs.map(cpuPerOp))];
    console.log(
      `delivery ${`${pair.transport}:`.padEnd(7)} ${pairedRatio(pair.ours, pair.theirs)} ` +
        `(target >= 0.9); medians: ours ${int(o)}/s, ${pair.raw} ${int(t)}/s; ` +
        `cpu/op ${int(oCpu)} vs ${int(tCpu)} us`,
    );
  }
  const [paused, hanging, bare] = [
    medianRate(emits.paused),
    medianRate(emits.hanging),
    medianRate(emits.bare),
  ];
  console.log(
    `emit: ${pairedRatio(emits.paused, emits.bare)} (target >= 0.5); medians: ` +
      `${int(paused)}/s vs validate+stringify ${int(bare)}/s; with a hanging receiver ` +
      `${int(hanging)}/s, ${pairedRatio(emits.hanging, emits.bare)}`,
  );
  if (mem) {
    console.log(
      `memory: ${int(mem.pending)} pending deliveries hold ${int(mem.heapMB)} MB ` +
        `(target <= 200 MB; heap once each failed one attempt; ${int(mem.queuedHeapMB)} MB ` +
        `before any attempt; rss +${int(mem.rssMB)} MB)`,
    );
  }
  console.log(`(load average ${load()} on ${os.availableParallelism()} cpus at the end)`);
}

if (process.env.BENCH_SIDE_WORKER) serveSideRuns();
else await main();
