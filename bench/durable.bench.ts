import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import {
  countingPool,
  countRows,
  createSchema,
  dropSchema,
  postgresCpuMs,
  truncate,
} from './durable-db.js';
import type { MemoryReport, MemoryReading } from './durable-memory.js';
import {
  cpuPerOp,
  forkSide,
  int,
  median,
  rate,
  type Sample,
  type Side,
} from './durable-process.js';
import { PAYLOAD, Receiver } from './delivery-app.js';

// `npm run bench:durable`: the PostgreSQL store against hand-written `pg` loops on the same
// database, in one run. It only prints; nothing here fails on a slow number. Everything lives
// in a schema of its own, `bench_durable_<pid>`, dropped at the end; only loopback traffic.
//
// 1. emit(). Ours: an app with `worker: false` (nothing delivers meanwhile) and 8 endpoints;
//    BENCH_DURABLE_EMITS emits, BENCH_DURABLE_IN_FLIGHT at once. Raw: the same message row and
//    8 delivery rows per message, into `raw_messages` and `raw_deliveries` (copies of the
//    store's tables with the same columns, constraints, indexes and storage parameters), one
//    prepared statement per message for endpoint ids read once per run, as many at once.
// 2. Deliveries. A backlog of BENCH_DURABLE_DELIVERY_EMITS x 8 deliveries is stored first by the
//    `worker: false` app (off the clock); then a worker app, made beforehand, is started
//    (`app.init()`, on the clock) and finds it with its sweeps; timed until it has published
//    `delivered` for all of them, each published once its outcome is stored. Raw: as many
//    undici POSTs of the same body with the same signed headers to the same receiver
//    (`receiver-process.ts`, another process), each followed by one INSERT of its attempt row
//    into `raw_attempts`. Both BENCH_DURABLE_CONCURRENCY at once (ours: `concurrency` that, and
//    `endpointConcurrency` an eighth of it).
// 3. Memory. 100,000 (BENCH_DURABLE_PENDING) deliveries to 8 endpoints at a loopback port that
//    nothing listens on, first retry 30 min away, stored by the `worker: false` app: the growth
//    of a worker process's heap and RSS after full collections, from before it takes in the
//    backlog (app made, not started) until every delivery has failed its first attempt and
//    waits for its retry; see `durable-memory.ts`.
// 4. emit() inside the caller's transaction. BENCH_DURABLE_TRANSACTIONS business transactions
//    on clients of the `worker: false` app's pool, 1 and then BENCH_DURABLE_IN_FLIGHT at once:
//    BEGIN, one INSERT into the app's own `app_orders`, COMMIT; ours also emits through the
//    client (8 endpoints). The ratio is the rate with the emit over the rate without; printed
//    with the time and the statements the emit adds per transaction.
//
// Every side runs in a process of its own, driven run by run from here, and every pool (ours
// and raw) is a `pg.Pool` of BENCH_DURABLE_POOL connections made by the bench (a worker app's
// store keeps one of them for LISTEN). The tables are emptied before every run. Warm-up runs
// of each side first (BENCH_DURABLE_WARMUP, full size, not counted), then BENCH_DURABLE_ROUNDS
// rounds, alternating which side goes first; the ratio is the median of the rounds' ratios
// (each of two runs beside each other in time), with their range. "cpu/op" is the side
// process's CPU per operation, "pg/op" the PostgreSQL server's (same machine), "statements"
// what the side sent through its pool per operation, by statement.
//
// Environment overrides: BENCH_DURABLE_EMITS (2000), BENCH_DURABLE_IN_FLIGHT (32),
// BENCH_DURABLE_DELIVERY_EMITS (500), BENCH_DURABLE_CONCURRENCY (64), BENCH_DURABLE_POOL
// (10), BENCH_DURABLE_PENDING (100000), BENCH_DURABLE_ROUNDS (5), BENCH_DURABLE_WARMUP (2),
// BENCH_DURABLE_TRANSACTIONS (1000), BENCH_DURABLE_SKIP_MEMORY=1, BENCH_DURABLE_PARTS (1,2,3,4:
// the parts to run), BENCH_DURABLE_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test).

const ENDPOINTS = 8;
const EMITS = Number(process.env.BENCH_DURABLE_EMITS ?? 2000);
const IN_FLIGHT = Number(process.env.BENCH_DURABLE_IN_FLIGHT ?? 32);
const DELIVERY_EMITS = Number(process.env.BENCH_DURABLE_DELIVERY_EMITS ?? 500);
const DELIVERIES = DELIVERY_EMITS * ENDPOINTS;
const CONCURRENCY = Number(process.env.BENCH_DURABLE_CONCURRENCY ?? 64);
const POOL_SIZE = Number(process.env.BENCH_DURABLE_POOL ?? 10);
const PENDING = Number(process.env.BENCH_DURABLE_PENDING ?? 100_000);
const ROUNDS = Number(process.env.BENCH_DURABLE_ROUNDS ?? 5);
const WARMUP = Number(process.env.BENCH_DURABLE_WARMUP ?? 2);
const SKIP_MEMORY = process.env.BENCH_DURABLE_SKIP_MEMORY === '1';
const PARTS = new Set((process.env.BENCH_DURABLE_PARTS ?? '1,2,3,4').split(','));
const SCHEMA = `bench_durable_${process.pid}`;

const admin = countingPool(2, 'bench_durable_admin').pool;

const sideEnv = (side: string) => ({
  BENCH_DURABLE_SIDE: side,
  BENCH_DURABLE_SCHEMA: SCHEMA,
  BENCH_DURABLE_POOL: String(POOL_SIZE),
  BENCH_DURABLE_CONCURRENCY: String(CONCURRENCY),
  BENCH_DURABLE_ENDPOINTS: String(ENDPOINTS),
});
const SIDE_FILE = new URL('./durable-side.js', import.meta.url);

/** Runs `run` with the PostgreSQL server's CPU over it added to its sample. */
async function withServerCpu<T extends Sample>(run: () => Promise<T>): Promise<T> {
  const before = postgresCpuMs();
  const sample = await run();
  const after = postgresCpuMs();
  return before === undefined || after === undefined
    ? sample
    : { ...sample, pgCpu: after - before };
}

function expectRows(what: string, found: number | undefined, expected: number) {
  if (found !== expected) throw new Error(`${what}: ${found ?? 0} rows, expected ${expected}`);
}

const statementsPerOp = (sample: Sample) =>
  Object.entries(sample.queries)
    .sort(([, x], [, y]) => y - x)
    .map(([name, n]) => `${name} ${(n / sample.ops).toFixed(2)}`)
    .join(', ');

function describe(sample: Sample): string {
  const pg = sample.pgCpu === undefined ? '' : `, pg ${int((sample.pgCpu * 1000) / sample.ops)}`;
  return (
    `${int(rate(sample)).padStart(6)}/s (us/op: cpu ${int(cpuPerOp(sample))}${pg}; ` +
    `statements/op: ${statementsPerOp(sample)})`
  );
}

interface Pairs {
  ours: Sample[];
  raw: Sample[];
}

/** `ours` over `raw`, round by round: the median and the range of the rounds' ratios. */
function pairedRatio({ ours, raw }: Pairs): { median: number; text: string } {
  const ratios = ours.map((sample, round) => rate(sample) / rate(raw[round]));
  const [low, high] = [Math.min(...ratios), Math.max(...ratios)];
  return {
    median: median(ratios),
    text: `ratio ${median(ratios).toFixed(2)} (rounds ${low.toFixed(2)}-${high.toFixed(2)})`,
  };
}

/** WARMUP runs of each side, then ROUNDS rounds alternating which side goes first. */
async function rounds(
  label: string,
  runOurs: () => Promise<Sample>,
  runRaw: () => Promise<Sample>,
): Promise<Pairs> {
  for (let i = 0; i < WARMUP; i++) {
    const [raw, ours] = [await runRaw(), await runOurs()];
    console.log(`  warm-up ${i + 1}: ours ${int(rate(ours))}/s, raw ${int(rate(raw))}/s`);
  }
  const pairs: Pairs = { ours: [], raw: [] };
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      pairs.raw.push(await runRaw());
      pairs.ours.push(await runOurs());
    } else {
      pairs.ours.push(await runOurs());
      pairs.raw.push(await runRaw());
    }
    const [o, r] = [pairs.ours.at(-1)!, pairs.raw.at(-1)!];
    console.log(
      `  round ${round + 1} ${label}: ratio ${(rate(o) / rate(r)).toFixed(2)}\n` +
        `    ours ${describe(o)}\n    raw  ${describe(r)}`,
    );
  }
  return pairs;
}

// ---------------------------------------------------------------------------------------------
// 1. emit()

async function emits(oursEmit: Side, rawEmit: Side): Promise<Pairs> {
  console.log(
    `1. emit(): ${int(EMITS)} emits x ${ENDPOINTS} endpoints, ${IN_FLIGHT} in flight, ` +
      `worker: false; raw: one INSERT ... WITH statement per message (message + ${ENDPOINTS} ` +
      `deliveries), as many in flight`,
  );
  let checkedBody = false;
  const runOurs = async () => {
    await truncate(admin, SCHEMA);
    const sample = await withServerCpu(() => oursEmit.call<Sample>('emit', EMITS, IN_FLIGHT));
    expectRows('ours messages', (await countRows(admin, SCHEMA, 'messages')).all, EMITS);
    expectRows('ours deliveries', (await countRows(admin, SCHEMA, 'deliveries')).all, EMITS * 8);
    if (!checkedBody) {
      // The raw loops store and send JSON.stringify(PAYLOAD): make sure that is what ours does.
      const { rows } = await admin.query(`SELECT body FROM ${SCHEMA}.messages LIMIT 1`);
      if (rows[0].body !== JSON.stringify(PAYLOAD)) {
        throw new Error(`ours stored ${rows[0].body}, the raw loops another body`);
      }
      checkedBody = true;
    }
    return sample;
  };
  const runRaw = async () => {
    await truncate(admin, SCHEMA);
    const sample = await withServerCpu(() => rawEmit.call<Sample>('emit', EMITS, IN_FLIGHT));
    expectRows('raw messages', (await countRows(admin, SCHEMA, 'raw_messages')).all, EMITS);
    expectRows(
      'raw deliveries',
      (await countRows(admin, SCHEMA, 'raw_deliveries')).all,
      EMITS * ENDPOINTS,
    );
    return sample;
  };
  return rounds('emit', runOurs, runRaw);
}

// ---------------------------------------------------------------------------------------------
// 2. Deliveries

async function deliveries(
  receiver: Receiver,
  oursEmit: Side,
  oursDeliver: Side,
  rawDeliver: Side,
): Promise<Pairs & { initMs: number[] }> {
  console.log(
    `2. deliveries: ${int(DELIVERIES)} per run (${int(DELIVERY_EMITS)} messages x ${ENDPOINTS} ` +
      `endpoints), ${CONCURRENCY} at once, undici; ours: stored by the worker: false app, then ` +
      `a worker app started on them (timed from app.init() to the last 'delivered'); raw: ` +
      `undici POST + INSERT of the attempt row`,
  );
  const initMs: number[] = [];
  const checkReceiver = async (label: string) => {
    const counts = await receiver.counts();
    if (counts.ok !== DELIVERIES) {
      throw new Error(`${label}: the receiver answered ${counts.ok}, expected ${DELIVERIES}`);
    }
  };
  const resetReceiver = async () => {
    receiver.reset();
    // Answered after the reset: the receiver has taken it before the run starts.
    await receiver.counts();
  };
  const runOurs = async () => {
    await truncate(admin, SCHEMA);
    await oursEmit.call<Sample>('emit', DELIVERY_EMITS, IN_FLIGHT);
    await resetReceiver();
    const sample = await withServerCpu(() =>
      oursDeliver.call<Sample & { initMs: number }>('deliver', DELIVERIES),
    );
    initMs.push(sample.initMs);
    await checkReceiver('ours');
    const statuses = await countRows(admin, SCHEMA, 'deliveries', 'status');
    expectRows('ours delivered deliveries', statuses.delivered, DELIVERIES);
    expectRows('ours attempts', (await countRows(admin, SCHEMA, 'attempts')).all, DELIVERIES);
    return sample;
  };
  const runRaw = async () => {
    await truncate(admin, SCHEMA);
    await resetReceiver();
    const sample = await withServerCpu(() =>
      rawDeliver.call<Sample>('deliver', receiver.okUrl, DELIVERIES),
    );
    await checkReceiver('raw');
    expectRows('raw attempts', (await countRows(admin, SCHEMA, 'raw_attempts')).all, DELIVERIES);
    return sample;
  };
  return { ...(await rounds('deliveries', runOurs, runRaw)), initMs };
}

// ---------------------------------------------------------------------------------------------
// 4. emit() inside the caller's transaction

const TRANSACTIONS = Number(process.env.BENCH_DURABLE_TRANSACTIONS ?? 1000);

async function transactions(oursEmit: Side, inFlight: number): Promise<Pairs> {
  console.log(
    `4. transactions, ${inFlight} in flight: ${int(TRANSACTIONS)} per run, each BEGIN, one ` +
      `INSERT of the app's own row, COMMIT on a client of the pool; ours also emits through ` +
      `that client (${ENDPOINTS} endpoints, worker: false); raw: without the emit`,
  );
  const run = (emit: boolean) => async () => {
    await truncate(admin, SCHEMA);
    const sample = await withServerCpu(() =>
      oursEmit.call<Sample>('transaction', TRANSACTIONS, inFlight, emit),
    );
    expectRows('app rows', (await countRows(admin, SCHEMA, 'app_orders')).all, TRANSACTIONS);
    const messages = (await countRows(admin, SCHEMA, 'messages')).all ?? 0;
    expectRows('messages', messages, emit ? TRANSACTIONS : 0);
    return sample;
  };
  return rounds(`transactions (${inFlight} in flight)`, run(true), run(false));
}

/** What the emit adds to a transaction: time (from the medians' rates) and statements. */
function transactionCost(label: string, pairs: Pairs, inFlight: number) {
  const perOpMs = (samples: Sample[]) => median(samples.map((sample) => sample.ms / sample.ops));
  const [ours, raw] = [perOpMs(pairs.ours), perOpMs(pairs.raw)];
  const statements = (sample: Sample) =>
    Object.values(sample.queries).reduce((sum, n) => sum + n, 0) / sample.ops;
  const { text } = pairedRatio(pairs);
  // One at a time, wall time per transaction is its latency; with several, the time the
  // run takes per transaction.
  console.log(
    `${label} ${text}; ${inFlight === 1 ? 'latency' : 'wall time'} per transaction ` +
      `${(raw * 1000).toFixed(0)} -> ${(ours * 1000).toFixed(0)} us ` +
      `(+${((ours - raw) * 1000).toFixed(0)} us per emit); statements per transaction ` +
      `${statements(pairs.raw[0]).toFixed(0)} -> ${statements(pairs.ours[0]).toFixed(0)} ` +
      `(ours: ${statementsPerOp(pairs.ours[0])})`,
  );
}

// ---------------------------------------------------------------------------------------------
// 3. Memory

/** A loopback port that nothing listens on: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function memory(oursEmit: Side): Promise<MemoryReport & { emit: Sample }> {
  const emitsNeeded = Math.ceil(PENDING / ENDPOINTS);
  const expected = emitsNeeded * ENDPOINTS;
  const port = await closedPort();
  console.log(
    `3. memory: ${int(expected)} pending deliveries (${int(emitsNeeded)} messages x ` +
      `${ENDPOINTS} endpoints at 127.0.0.1:${port}, nothing listening), first retry in 30 min; ` +
      `stored first by the worker: false app, then a worker started in a fresh process ` +
      `(concurrency ${CONCURRENCY})`,
  );
  await truncate(admin, SCHEMA, { endpoints: true });
  await oursEmit.call('addEndpoints', `http://127.0.0.1:${port}`);
  const worker = forkSide(new URL('./durable-memory.js', import.meta.url), sideEnv('memory'), {
    execArgv: ['--expose-gc'],
    timeoutMs: 900_000,
  });
  try {
    const emit = await oursEmit.call<Sample>('emit', emitsNeeded, IN_FLIGHT);
    await worker.call<MemoryReading>('start');
    const report = await worker.call<MemoryReport>('attemptedAll', expected);
    return { ...report, emit };
  } finally {
    await worker.stop();
  }
}

function printMemory(report: MemoryReport & { emit: Sample }) {
  const { before, after } = report;
  const mb = (value: number) => `${value.toFixed(1)} MB`;
  const delta = (key: keyof MemoryReading) => `+${mb(after[key] - before[key])}`;
  console.log(
    `  backlog emitted in ${int(report.emit.ms)} ms (${int(rate(report.emit))} emits/s); every ` +
      `first attempt recorded ${int(report.ms)} ms after the worker's app.init() ` +
      `(${int(report.firstAttempts / (report.ms / 1000))}/s, worker cpu ${int(report.cpuMs)} ms); ` +
      `${int(report.pendingWithOneAttempt)} pending with 1 attempt in the store` +
      `${report.otherEvents ? `; ${report.otherEvents} other events` : ''}`,
  );
  console.log(
    `  worker statements per delivery: ` +
      statementsPerOp({ ...report.emit, queries: report.queries, ops: report.firstAttempts }),
  );
  console.log(
    `  heap used ${mb(before.heapUsedMB)} -> ${mb(after.heapUsedMB)} (${delta('heapUsedMB')}), ` +
      `heap total ${delta('heapTotalMB')}, rss ${mb(before.rssMB)} -> ${mb(after.rssMB)} ` +
      `(${delta('rssMB')}; peak ${mb(report.peakRssMB)}), external ${delta('externalMB')}; ` +
      `peak heap used ${mb(report.peakHeapUsedMB)}`,
  );
}

// ---------------------------------------------------------------------------------------------

const load = () => os.loadavg()[0].toFixed(1);

async function main() {
  const { rows } = await admin.query<{ version: string; sync: string }>(
    `SELECT current_setting('server_version') AS version,
            current_setting('synchronous_commit') AS sync`,
  );
  console.log(
    `nestjs-webhooks durable bench: node ${process.version}, PostgreSQL ${rows[0].version} ` +
      `(synchronous_commit ${rows[0].sync}), ${os.availableParallelism()} cpus, pools of ` +
      `${POOL_SIZE}, ${WARMUP} warm-up runs, ${ROUNDS} rounds, medians, schema ${SCHEMA}, ` +
      `load average ${load()}`,
  );
  const indexes = await createSchema(admin, SCHEMA);
  console.log(
    `  raw tables: LIKE the store's INCLUDING ALL, same storage parameters; indexes ` +
      Object.entries(indexes)
        .map(([table, n]) => `${table} ${n}`)
        .join(', '),
  );
  const receiver = await Receiver.start();
  const oursEmit = forkSide(SIDE_FILE, sideEnv('ours-emit'));
  const sides: Side[] = [oursEmit];
  let emitPairs: Pairs | undefined;
  let deliveryPairs: Awaited<ReturnType<typeof deliveries>> | undefined;
  let mem: Awaited<ReturnType<typeof memory>> | undefined;
  const transactionPairs: [number, Pairs][] = [];
  try {
    await oursEmit.call('addEndpoints', receiver.okUrl);
    if (PARTS.has('1')) {
      const rawEmit = forkSide(SIDE_FILE, sideEnv('raw-emit'));
      sides.push(rawEmit);
      emitPairs = await emits(oursEmit, rawEmit);
      await rawEmit.stop();
    }
    if (PARTS.has('2')) {
      const oursDeliver = forkSide(SIDE_FILE, sideEnv('ours-deliver'));
      const rawDeliver = forkSide(SIDE_FILE, sideEnv('raw-deliver'));
      sides.push(oursDeliver, rawDeliver);
      deliveryPairs = await deliveries(receiver, oursEmit, oursDeliver, rawDeliver);
      await Promise.all([oursDeliver.stop(), rawDeliver.stop()]);
    }
    for (const inFlight of PARTS.has('4') ? [1, IN_FLIGHT] : []) {
      transactionPairs.push([inFlight, await transactions(oursEmit, inFlight)]);
    }
    if (PARTS.has('3') && !SKIP_MEMORY) {
      mem = await memory(oursEmit);
      printMemory(mem);
    }
  } finally {
    await Promise.all(sides.map((side) => side.stop()));
    await receiver.stop();
    await dropSchema(admin, SCHEMA);
    await admin.end();
  }

  const summary = (label: string, pairs: Pairs, target: string, unit: string) => {
    const { text } = pairedRatio(pairs);
    const medianOf = (samples: Sample[], value: (sample: Sample) => number) =>
      int(median(samples.map(value)));
    const pgPerOp = (sample: Sample) => ((sample.pgCpu ?? NaN) * 1000) / sample.ops;
    console.log(
      `${label} ${text} (target ${target}); medians: ours ${medianOf(pairs.ours, rate)} ${unit}/s, ` +
        `raw ${medianOf(pairs.raw, rate)} ${unit}/s; cpu/op ${medianOf(pairs.ours, cpuPerOp)} vs ` +
        `${medianOf(pairs.raw, cpuPerOp)} us; pg/op ${medianOf(pairs.ours, pgPerOp)} vs ` +
        `${medianOf(pairs.raw, pgPerOp)} us; statements/op: ours ${statementsPerOp(pairs.ours[0])}; ` +
        `raw ${statementsPerOp(pairs.raw[0])}`,
    );
  };
  console.log('');
  if (emitPairs) summary('emit:', emitPairs, '>= 0.8', 'emits');
  if (deliveryPairs) {
    summary('deliveries:', deliveryPairs, '>= 0.7', 'deliveries');
    console.log(
      `  (ours' app.init(), on the clock: median ${median(deliveryPairs.initMs).toFixed(1)} ms)`,
    );
  }
  for (const [inFlight, pairs] of transactionPairs) {
    transactionCost(`transaction with emit (${inFlight} in flight):`, pairs, inFlight);
  }
  if (mem) {
    const heap = mem.after.heapUsedMB - mem.before.heapUsedMB;
    const rss = mem.after.rssMB - mem.before.rssMB;
    console.log(
      `memory: ${int(mem.pendingWithOneAttempt)} pending deliveries, each attempted once: worker ` +
        `heap +${heap.toFixed(1)} MB, rss +${rss.toFixed(1)} MB after gc (target <= 50 MB; ` +
        `peak rss ${mem.peakRssMB.toFixed(0)} MB)`,
    );
  }
  console.log(`(load average ${load()} on ${os.availableParallelism()} cpus at the end)`);
}

await main();
