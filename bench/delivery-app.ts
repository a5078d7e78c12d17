import 'reflect-metadata';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
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
