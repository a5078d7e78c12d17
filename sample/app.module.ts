import { Module } from '@nestjs/common';
import { WebhooksModule } from '../lib/index.js';
import { NewSubscriptionWebhook } from './new-subscription.webhook.js';
import { UsersController } from './users.controller.js';

@Module({
  imports: [WebhooksModule.forRoot()],
  controllers: [UsersController],
  providers: [NewSubscriptionWebhook],
})
export class AppModule {}
