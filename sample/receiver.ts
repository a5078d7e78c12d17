// A customer's receiver for the sample, as a NestJS app of its own: it registers itself through
// the sample app's tenant portal (as the tenant `demo`, with the demo link route), then takes each `new-subscription` webhook through
// @VerifyWebhook (signature over the raw body, timestamp, repeats) and the sample's own
// `Subscription` DTO.
import 'reflect-metadata';
import {
  ArgumentsHost,
  Body,
  Catch,
  Controller,
  HttpCode,
  HttpException,
  Module,
  Post,
  ValidationPipe,
} from '@nestjs/common';
import { BaseExceptionFilter, NestFactory } from '@nestjs/core';
import { VerifyWebhook, WebhookHeaders, type VerifiedWebhookHeaders } from '../lib/index.js';
import { Subscription } from './subscription.dto.js';

const port = Number(process.env.RECEIVER_PORT ?? 9000);
const app = process.env.APP_URL ?? 'http://127.0.0.1:8000';
const url = `http://127.0.0.1:${port}/webhooks`;

/** The endpoint's secret, as the portal answered it when the receiver registered. */
let secret: string | undefined;

@Controller('webhooks')
class WebhooksController {
  @Post()
  @HttpCode(204)
  @VerifyWebhook({ resolveSecrets: () => secret })
  receive(@Body() subscription: Subscription, @WebhookHeaders() webhook: VerifiedWebhookHeaders) {
    console.log(`verified ${webhook.id}:`, { ...subscription });
  }
}

/** Prints why a request was refused (bad signature, stale timestamp...), then answers it. */
@Catch(HttpException)
class PrintRefusals extends BaseExceptionFilter {
  override catch(exception: HttpException, host: ArgumentsHost) {
    const request = host.switchToHttp().getRequest<{ headers: Record<string, unknown> }>();
    console.log(`REJECTED ${String(request.headers['webhook-id'])}: ${exception.message}`);
    super.catch(exception, host);
  }
}

@Module({ controllers: [WebhooksController] })
class ReceiverModule {}

async function register(): Promise<string> {
  // What a customer does in the portal's page, through its API: the link's token is the
  // fragment of its URL.
  const link = await call(`${app}/portal-link?tenant=demo`, {});
  const token = new URL(link.url as string).hash.replace('#token=', '');
  const endpoint = await call(`${app}/webhooks/portal/api/endpoints`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ url, events: ['new-subscription'], description: 'sample receiver' }),
  });
  console.log(`Registered endpoint ${String(endpoint.id)} for ${url} (tenant demo)`);
  console.log(`The portal: ${String(link.url)}`);
  return endpoint.secret as string;
}

async function call(target: string, init: RequestInit): Promise<Record<string, unknown>> {
  const response = await fetch(target, init);
  if (!response.ok) {
    throw new Error(
      `Registering ${url} at ${app} failed: ${response.status} ${await response.text()}`,
    );
  }
  return (await response.json()) as Record<string, unknown>;
}

async function main() {
  // rawBody: the signature is over the bytes that were sent, not over the parsed JSON.
  const receiver = await NestFactory.create(ReceiverModule, { rawBody: true, logger: ['error'] });
  receiver.useGlobalPipes(new ValidationPipe({ whitelist: true, transform: true }));
  receiver.useGlobalFilters(new PrintRefusals(receiver.getHttpAdapter()));
  receiver.enableShutdownHooks();
  // Until the secret is known every request is refused (401), and the sender retries it.
  await receiver.listen(port, '127.0.0.1');
  secret = await register();
  console.log(`Listening on ${url}; create a subscription to see a webhook arrive:`);
  console.log(
    `  curl -X POST ${app}/subscriptions -H 'content-type: application/json' ` +
      `-d '{"username":"rick","monthly_fee":9.99}'`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
