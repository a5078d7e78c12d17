import 'reflect-metadata';
import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { withWebhooks } from '../lib/index.js';
import { createModules, webhookName } from './docs-app.js';

// `npm run bench:docs`: how long documenting 500 webhooks takes with `withWebhooks` against
// `@nestjs/swagger`'s own `@ApiWebhook`, and what `WebhooksModule` adds to bootstrap.
// It only prints; nothing here fails on a slow number. `BENCH_WEBHOOKS` and `BENCH_RUNS`
// override the defaults (500 and 15). A bootstrap is much shorter than a document build, so it
// gets three times the runs for the same steadiness.

const WEBHOOKS = Number(process.env.BENCH_WEBHOOKS ?? 500);
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const WARMUP = 3;

const config = new DocumentBuilder()
  .setTitle('nestjs-webhooks bench')
  .setVersion('1.0.0')
  .setOpenAPIVersion('3.1.0')
  .build();

const modules = createModules(WEBHOOKS);

// Full collections between measurements, when node runs with --expose-gc, keep one side's
// garbage from being collected on the other side's clock.
const collectGarbage = () => (globalThis as { gc?: () => void }).gc?.();

const createApp = (module: Type<unknown>) =>
  NestFactory.create(module, { logger: false, abortOnError: false });

interface Sample {
  /** Wall-clock milliseconds. */
  ms: number;
  /**
   * Process CPU milliseconds (user + system, every thread, so background GC and JIT count too)
   * over the same span: less sensitive than wall time to other processes on a busy machine.
   */
  cpu: number;
  document?: OpenAPIObject;
}

/** Starts a measurement; calling the result ends it. */
function stopwatch(): () => Omit<Sample, 'document'> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  return () => {
    const ms = performance.now() - start;
    const cpu = process.cpuUsage(cpuStart);
    return { ms, cpu: (cpu.user + cpu.system) / 1000 };
  };
}

/** Ours: the app's controllers documented by swagger, then every `@Webhook` added. */
async function oursDocs(): Promise<Sample> {
  // As in most main.ts files: documented after create, before init.
  const app = await createApp(modules.withModule);
  collectGarbage();
  const stop = stopwatch();
  const document = withWebhooks(app, SwaggerModule.createDocument(app, config));
  const sample = stop();
  await app.close();
  return { ...sample, document };
}

/** Theirs: `@ApiWebhook` controller methods, documented by `SwaggerModule.createDocument`. */
async function theirsDocs(): Promise<Sample> {
  const app = await createApp(modules.apiWebhook);
  collectGarbage();
  const stop = stopwatch();
  const document = SwaggerModule.createDocument(app, config);
  const sample = stop();
  await app.close();
  return { ...sample, document };
}

/** `NestFactory.create` + `init()` of the module; `close()` is not timed. */
async function bootstrap(module: Type<unknown>): Promise<Sample> {
  collectGarbage();
  const stop = stopwatch();
  const app: INestApplication = await createApp(module);
  await app.init();
  const sample = stop();
  await app.close();
  return sample;
}

/** Runs the pair `runs` times, alternating which goes first, and returns each side's samples. */
async function interleaved(
  runs: number,
  a: () => Promise<Sample>,
  b: () => Promise<Sample>,
): Promise<[Sample[], Sample[]]> {
  const samples: [Sample[], Sample[]] = [[], []];
  for (let run = 0; run < runs; run++) {
    if (run % 2 === 0) {
      samples[0].push(await a());
      samples[1].push(await b());
    } else {
      samples[1].push(await b());
      samples[0].push(await a());
    }
  }
  // Only the times are kept: documents are large.
  return [
    samples[0].map(({ ms, cpu }) => ({ ms, cpu })),
    samples[1].map(({ ms, cpu }) => ({ ms, cpu })),
  ];
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

const wall = (samples: Sample[]) => median(samples.map((sample) => sample.ms));
const cpu = (samples: Sample[]) => median(samples.map((sample) => sample.cpu));

function describeTimes(label: string, samples: Sample[]) {
  const sorted = samples.map((sample) => sample.ms).sort((x, y) => x - y);
  console.log(
    `  ${label.padEnd(22)} median ${ms(wall(samples)).padStart(9)}   ` +
      `min ${ms(sorted[0]).padStart(9)}   max ${ms(sorted[sorted.length - 1]).padStart(9)}   ` +
      `cpu median ${ms(cpu(samples)).padStart(9)}`,
  );
}

/** Refuses to time documents that do not hold what the bench claims to compare. */
function checkDocument(label: string, document: OpenAPIObject | undefined) {
  const webhooks = Object.keys(document?.webhooks ?? {});
  const schemas = Object.keys(document?.components?.schemas ?? {});
  const first = document?.webhooks?.[webhookName(0)];
  const body = first && 'post' in first ? first.post?.requestBody : undefined;
  if (webhooks.length !== WEBHOOKS || schemas.length !== WEBHOOKS * 3 || !body) {
    throw new Error(
      `${label}: expected ${WEBHOOKS} webhooks with a POST body and ${WEBHOOKS * 3} schemas, ` +
        `got ${webhooks.length} webhooks and ${schemas.length} schemas`,
    );
  }
  console.log(`  ${label}: ${webhooks.length} webhooks, ${schemas.length} schemas`);
}

async function main() {
  console.log(
    `nestjs-webhooks bench: ${WEBHOOKS} webhooks; ${WARMUP} warm-up + ${RUNS} runs of each ` +
      `document build, ${RUNS * 3} of each bootstrap` +
      ('gc' in globalThis ? '' : ' (without --expose-gc: noisier)'),
  );

  checkDocument('ours (withWebhooks)', (await oursDocs()).document);
  checkDocument('theirs (@ApiWebhook)', (await theirsDocs()).document);

  await interleaved(WARMUP, oursDocs, theirsDocs);
  const [ours, theirs] = await interleaved(RUNS, oursDocs, theirsDocs);
  console.log('document build:');
  describeTimes('ours (withWebhooks)', ours);
  describeTimes('theirs (@ApiWebhook)', theirs);

  const withModule = () => bootstrap(modules.withModule);
  const withoutModule = () => bootstrap(modules.withoutModule);
  await interleaved(WARMUP, withModule, withoutModule);
  const [withTimes, withoutTimes] = await interleaved(RUNS * 3, withModule, withoutModule);
  console.log('bootstrap (create + init):');
  describeTimes('with WebhooksModule', withTimes);
  describeTimes('without', withoutTimes);

  console.log('');
  console.log(
    `docs: ours ${ms(wall(ours))}, @ApiWebhook ${ms(wall(theirs))}, ` +
      `ratio ${(wall(ours) / wall(theirs)).toFixed(2)} (target <= 1.0)`,
  );
  console.log(
    `bootstrap: with module ${ms(wall(withTimes))}, without ${ms(wall(withoutTimes))}, ` +
      `ratio ${(wall(withTimes) / wall(withoutTimes)).toFixed(2)} (target <= 1.10)`,
  );
  // The same difference without the 500 providers around it: an app's bootstrap time swings
  // by several milliseconds from run to run here, more than the module adds to it, while an
  // empty app boots in about 2 ms, so the module's own cost shows clearly.
  const [aloneTimes, emptyTimes] = await interleaved(
    RUNS * 3,
    () => bootstrap(modules.moduleAlone),
    () => bootstrap(modules.empty),
  );
  const added = wall(aloneTimes) - wall(emptyTimes);
  console.log(
    `bootstrap of the module alone: ${ms(wall(aloneTimes))} against ${ms(wall(emptyTimes))} ` +
      `for an empty app, so it adds ${ms(added)}: ` +
      `${((100 * added) / wall(withoutTimes)).toFixed(1)}% of the bootstrap without it above`,
  );
  console.log(
    `process cpu time: docs ratio ${(cpu(ours) / cpu(theirs)).toFixed(2)}, ` +
      `bootstrap ratio ${(cpu(withTimes) / cpu(withoutTimes)).toFixed(2)} ` +
      `(load average ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} cpus)`,
  );
}

await main();
