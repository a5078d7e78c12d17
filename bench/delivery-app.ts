import 'reflect-metadata';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsISO8601, IsString, IsUUID, Length, Min } from 'class-validator';
import {
  Webhook,
  WebhookDeliveries,
  WebhookEmitter,
  WebhookEndpoints,
  WebhookPost,
  WebhooksModule,
  type WebhooksModuleOptions,
} from '../lib/index.js';
import type { ReceiverCommand, ReceiverReport } from './receiver-process.js';

// The app that `npm run bench:delivery` delivers from: one declared webhook with a small DTO,
// compiled by tsc with `emitDecoratorMetadata` like any Nest app.

export const EVENT = 'order.placed';

export class OrderPlaced {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  id: string;

  @ApiProperty({ description: 'Amount in cents' })
  @IsInt()
  @Min(0)
  amount: number;

  @ApiProperty({ example: 'EUR' })
  @IsString()
  @Length(3, 3)
  currency: string;

  @ApiProperty()
  @IsBoolean()
  paid: boolean;

  @ApiProperty({ format: 'date-time' })
  @IsISO8601()
  createdAt: string;
}

@Webhook(EVENT)
export class OrderPlacedWebhook {
  @WebhookPost({ description: 'An order was placed.' })
  orderPlaced(body: OrderPlaced) {
    return body;
  }
}

/** What every emit sends, as a plain object (what an app would typically pass to `emit`). */
export const PAYLOAD = Object.freeze({
  id: '3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60',
  amount: 4200,
  currency: 'EUR',
  paid: true,
  createdAt: '2025-01-01T12:00:00.000Z',
});

export interface BenchApp {
  app: INestApplicationContext;
  emitter: WebhookEmitter;
  endpoints: WebhookEndpoints;
  deliveries: WebhookDeliveries;
}

/**
 * A fresh app with `WebhooksModule.forRoot(options)`. `init: false` builds the container without
 * running lifecycle hooks, so the dispatcher never starts and queued deliveries just wait.
 */
export async function createBenchApp(
  options: WebhooksModuleOptions,
  { init = true }: { init?: boolean } = {},
): Promise<BenchApp> {
  @Module({ imports: [WebhooksModule.forRoot(options)], providers: [OrderPlacedWebhook] })
  class DeliveryBenchModule {}

  const app = init
    ? await NestFactory.createApplicationContext(DeliveryBenchModule, { logger: false })
    : await NestFactory.create(DeliveryBenchModule, { logger: false });
  return {
    app,
    emitter: app.get(WebhookEmitter),
    endpoints: app.get(WebhookEndpoints),
    deliveries: app.get(WebhookDeliveries),
  };
}

/** Registers `count` endpoints for `EVENT` at `baseUrl` + `/hooks/<i>`; returns them. */
export async function addEndpoints(endpoints: WebhookEndpoints, baseUrl: string, count: number) {
  const added = [];
  for (let i = 0; i < count; i++) {
    added.push(await endpoints.add({ url: `${baseUrl}/hooks/${i}`, events: [EVENT] }));
  }
  return added;
}

/** Rejects with a message from `what()` when `promise` takes longer than `ms`. */
/**
 * Counts the `delivered` events of a run until `expected` have come, and the failed attempts
 * meanwhile; `done` resolves when all are delivered, `describe` says how far it got.
 */
export function countDeliveries(deliveries: WebhookDeliveries, expected: number) {
  let delivered = 0;
  let failed = 0;
  let lastError: string | null = null;
  let resolveAll!: () => void;
  const done = new Promise<void>((resolve) => (resolveAll = resolve));
  const subscription = deliveries.events.subscribe((event) => {
    if (event.type === 'delivered') {
      if (++delivered === expected) resolveAll();
    } else if (event.type === 'attempt-failed' || event.type === 'delivery-exhausted') {
      failed++;
      lastError = event.delivery.lastError;
    }
  });
  return {
    done,
    describe: () => `${delivered}/${expected} delivered, ${failed} failed attempts (${lastError})`,
    /** The failed attempts, and the last one's error, or `undefined` when none failed. */
    failures: () => (failed > 0 ? `${failed} failed attempts: ${lastError}` : undefined),
    unsubscribe: () => subscription.unsubscribe(),
  };
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

type Counts = Omit<Extract<ReceiverReport, { type: 'count' }>, 'type'>;

/** The receiver process (`receiver-process.ts`), seen from the bench: its URLs and counters. */
export class Receiver {
  private constructor(
    private readonly child: ChildProcess,
    private readonly ports: Extract<ReceiverReport, { type: 'ready' }>,
  ) {}

  static async start(): Promise<Receiver> {
    const child = fork(fileURLToPath(new URL('./receiver-process.js', import.meta.url)), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let onExit!: (code: number | null) => void;
    const ready = await withTimeout(
      new Promise<Extract<ReceiverReport, { type: 'ready' }>>((resolve, reject) => {
        onExit = (code) => reject(new Error(`the receiver process exited early (${code})`));
        child.once('exit', onExit);
        child.once('error', reject);
        child.on('message', (report: ReceiverReport) => {
          if (report.type === 'ready') resolve(report);
        });
      }),
      10_000,
      () => 'receiver start',
    );
    child.off('exit', onExit);
    return new Receiver(child, ready);
  }

  /** Answers 204 at once. */
  get okUrl() {
    return `http://127.0.0.1:${this.ports.okPort}`;
  }

  /** Never answers. */
  get hangUrl() {
    return `http://127.0.0.1:${this.ports.hangPort}`;
  }

  /** Answers 503 at once. */
  get downUrl() {
    return `http://127.0.0.1:${this.ports.downPort}`;
  }

  private command(command: ReceiverCommand) {
    this.child.send(command);
  }

  /** Requests each server has taken since the last reset. */
  async counts(): Promise<Counts> {
    const reply = new Promise<Counts>((resolve) => {
      const onMessage = (report: ReceiverReport) => {
        if (report.type !== 'count') return;
        this.child.off('message', onMessage);
        resolve(report);
      };
      this.child.on('message', onMessage);
    });
    this.command({ type: 'count' });
    return withTimeout(reply, 10_000, () => 'receiver count');
  }

  reset() {
    this.command({ type: 'reset' });
  }

  async stop() {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.command({ type: 'exit' });
    await withTimeout(exited, 10_000, () => 'receiver exit');
  }
}
