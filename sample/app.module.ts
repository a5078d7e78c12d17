import { Module } from '@nestjs/common';
import { WebhooksModule, WebhooksPortalModule } from '../lib/index.js';
import { NewSubscriptionWebhook } from './new-subscription.webhook.js';
import { PortalLinkController } from './portal-link.controller.js';
import { SubscriptionsController } from './subscriptions.controller.js';
import { UsersController } from './users.controller.js';

@Module({
  imports: [
    WebhooksModule.forRoot({
      // The sample's receiver runs on this machine, so loopback is allowed here.
      // Production leaves allowedNetworks empty: endpoints may then only be public addresses.
      allowedNetworks: ['127.0.0.0/8', '::1/128'],
      // With DATABASE_URL set (postgres://user@host/db), endpoints, messages and pending
      // deliveries live in PostgreSQL, survive a restart and are shared by every process on it;
      // without it, in this process's memory.
      ...(process.env.DATABASE_URL && {
        store: {
          type: 'postgres',
          connectionString: process.env.DATABASE_URL,
          // Default `webhooks`.
          schema: process.env.DATABASE_SCHEMA,
        },
      }),
    }),
    // The tenant portal at /webhooks/portal, where each customer manages its own endpoints and
    // reads and replays its deliveries. A real app reads the secret from its configuration; the
    // sample falls back to a fixed one so that `npm start` needs nothing.
    WebhooksPortalModule.forRoot({
      secret: process.env.PORTAL_SECRET ?? 'sample-only-portal-secret-never-use-in-production',
    }),
  ],
  controllers: [UsersController, SubscriptionsController, PortalLinkController],
  providers: [NewSubscriptionWebhook],
})
export class AppModule {}
