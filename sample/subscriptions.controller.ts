import { Body, Controller, Post } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNumber, IsOptional, IsString, Min } from 'class-validator';
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

  @ApiPropertyOptional({
    description: "The customer (tenant) whose endpoints hear of it, in the portal's terms",
    default: 'demo',
  })
  @IsOptional()
  @IsString()
  tenant?: string;
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

  /** Creates a subscription and tells the endpoints its tenant registered about it. */
  @Post()
  async create(@Body() input: CreateSubscription): Promise<SubscriptionCreated> {
    const { tenant = 'demo', ...fields } = input;
    const subscription = Object.assign(new Subscription(), {
      ...fields,
      start_date: new Date(),
    });
    const sent: EmitResult = await this.webhooks.emit(NewSubscriptionWebhook, subscription, {
      tenant,
    });
    return { subscription, webhookId: sent.id, endpoints: sent.endpoints };
  }
}
