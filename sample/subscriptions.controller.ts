import { Body, Controller, Post } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { IsNumber, IsString, Min } from 'class-validator';
import { WebhookEmitter, type EmitResult } from '../lib/index.js';
import { NewSubscriptionWebhook } from './new-subscription.webhook.js';
import { Subscription } from './subscription.dto.js';

export class CreateSubscription {
  @ApiProperty({ example: 'rick' })
  @IsString()
  username: string;

  @ApiProperty({ example: 9.99 })
  @IsNumber()
  @Min(0)
  monthly_fee: number;
}

export class SubscriptionCreated {
  @ApiProperty()
  subscription: Subscription;

  @ApiProperty({ description: 'The `webhook-id` of the new-subscription message' })
  webhookId: string;

  @ApiProperty({ description: 'How many registered endpoints it was queued for' })
  endpoints: number;
}

@Controller('subscriptions')
export class SubscriptionsController {
  constructor(private readonly webhooks: WebhookEmitter) {}

  /** Creates a subscription and tells every registered endpoint about it. */
  @Post()
  async create(@Body() input: CreateSubscription): Promise<SubscriptionCreated> {
    const subscription = Object.assign(new Subscription(), {
      ...input,
      start_date: new Date(),
    });
    const sent: EmitResult = await this.webhooks.emit(NewSubscriptionWebhook, subscription);
    return { subscription, webhookId: sent.id, endpoints: sent.endpoints };
  }
}
