import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WorkerConfig, WorkerReport } from '../fixtures/durable/worker.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// One output per test process: spec files run in parallel processes, and two compiles writing
// one folder would let a child start from a half-written file.
const OUT_DIR = `${ROOT}.test-out/fixtures-${process.pid}`;
const OUT = `${OUT_DIR}/test/fixtures/durable/`;
const WORKER = `${OUT}worker.js`;
/** Opens a PostgreSQL store with the JSON options of its argument, and closes it. */
export const OPEN_STORE_SCRIPT = `${OUT}open-store.js`;
let compiled = false;

/**
 * Compiles the child-process fixtures of `test/fixtures/durable` (and the library they import)
 * with tsc, once per test process: the children run plain JavaScript, as an app's processes
 * would. Returns the worker's path.
 */
export function compileFixtures(): string {
  if (compiled && existsSync(WORKER) && existsSync(OPEN_STORE_SCRIPT)) return WORKER;
  const result = spawnSync(
    process.execPath,
    [
      `${ROOT}node_modules/typescript/bin/tsc`,
      '-p',
      `${ROOT}test/fixtures/durable/tsconfig.json`,
      '--outDir',
      OUT_DIR,
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) {
    throw new Error(`compiling the durable fixtures failed:\n${result.stdout}${result.stderr}`);
  }
  compiled = true;
  return WORKER;
}

/** A running worker process. */
export interface WorkerProcess {
  child: ChildProcess;
  /** Every report so far, in order. */
  reports: WorkerReport[];
  /** Resolves with the first report of `type` (rejects if the process exits first). */
  next<T extends WorkerReport['type']>(type: T): Promise<Extract<WorkerReport, { type: T }>>;
  /** Asks it to close the app (app.close()) and waits for it to exit. */
  close(): Promise<number | null>;
  /** SIGKILL, and waits for it to be gone. */
  kill(): Promise<void>;
  /** What it wrote to stderr (its error and warning logs). */
  stderr(): string;
}

/** Forks a worker with `config`, resolved once it reports that its app is up. */
export async function startWorker(config: WorkerConfig): Promise<WorkerProcess> {
  const child = fork(compileFixtures(), [], {
    env: { ...process.env, WEBHOOKS_WORKER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const reports: WorkerReport[] = [];
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const listeners = new Set<() => void>();
  child.on('message', (report: WorkerReport) => {
    reports.push(report);
    for (const listener of listeners) listener();
  });
  const worker: WorkerProcess = {
    child,
    reports,
    stderr: () => errors,
    next: (type) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = reports.find((report) => report.type === type);
          const failed = reports.find((report) => report.type === 'failed');
          if (found) resolve(found as never);
          else if (failed)
            reject(new Error(`worker failed: ${(failed as { error: string }).error}`));
          else return false;
          listeners.delete(check);
          return true;
        };
        if (check()) return;
        listeners.add(check);
        void exited.then((code) => {
          if (listeners.delete(check)) {
            reject(new Error(`worker exited (${code}) before '${type}':\n${errors}`));
          }
        });
      }),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.send('close');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  await worker.next('ready');
  return worker;
}

/** Runs `script` with `options` as its JSON argument; resolves to its exit code and output. */
export function runNode(script: string, options: unknown) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, [script, JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}
