import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { QueryCounts } from './durable-db.js';
import { withTimeout } from './delivery-app.js';

// What the processes of `npm run bench:durable` share: a measured span, and calls from the
// parent to a forked process over IPC, answered one by one.

export interface Sample {
  /** Wall-clock milliseconds. */
  ms: number;
  /** The measuring process's CPU milliseconds (user + system) over the same span. */
  cpu: number;
  /** Operations completed in the span (emits, or deliveries). */
  ops: number;
  /** Statements sent through the pool's `query` in the span, by name. */
  queries: QueryCounts;
  /** CPU milliseconds of the PostgreSQL server over the span, where it can be read. */
  pgCpu?: number;
}

/** Starts a measurement of `ops` operations; calling the result ends it. */
export function stopwatch(ops: number) {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  return (queries: QueryCounts): Sample => {
    const ms = performance.now() - start;
    const cpu = process.cpuUsage(cpuStart);
    return { ms, cpu: (cpu.user + cpu.system) / 1000, ops, queries };
  };
}

export const rate = (sample: Sample) => sample.ops / (sample.ms / 1000);
/** CPU microseconds of the measuring process per operation. */
export const cpuPerOp = (sample: Sample) => (sample.cpu * 1000) / sample.ops;

export function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export const int = (value: number) => Math.round(value).toLocaleString('en-US');

interface Call {
  id: number;
  command: string;
  args: unknown[];
}

type Answer = { id: number; result: unknown } | { id: number; error: string };

/** A forked process that runs the commands it is sent (see `serve`). */
export interface Side {
  call<T>(command: string, ...args: unknown[]): Promise<T>;
  stop(): Promise<void>;
}

/** Forks `file` (a compiled module that calls `serve`) with `env` added to this one's. */
export function forkSide(
  file: URL,
  env: Record<string, string>,
  { execArgv = [] as string[], timeoutMs = 300_000 } = {},
): Side {
  const child = fork(fileURLToPath(file), [], {
    execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (e: Error) => void }
  >();
  let next = 0;
  child.on('message', (answer: Answer) => {
    const call = waiting.get(answer.id);
    if (!call) return;
    waiting.delete(answer.id);
    if ('error' in answer) call.reject(new Error(answer.error));
    else call.resolve(answer.result);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    for (const call of waiting.values()) {
      call.reject(new Error(`${file.pathname} exited (${code ?? signal})`));
    }
    waiting.clear();
  });
  return {
    call<T>(command: string, ...args: unknown[]) {
      const id = next++;
      const answer = new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      });
      child.send({ id, command, args } satisfies Call);
      return withTimeout(answer, timeoutMs, () => `${command} in ${file.pathname}`);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill();
      await exited;
    },
  };
}

/** The forked side of `forkSide`: runs each command with its handler, answers its result. */
export function serve(handlers: Record<string, (...args: never[]) => Promise<unknown>>) {
  process.on('message', async ({ id, command, args }: Call) => {
    let answer: Answer;
    try {
      const handler = handlers[command];
      if (!handler) throw new Error(`unknown command ${command}`);
      answer = { id, result: await handler(...(args as never[])) };
    } catch (error) {
      answer = {
        id,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      };
    }
    process.send!(answer);
  });
  // Never outlive the bench.
  process.on('disconnect', () => process.exit(0));
}
