import {
  BadRequestException,
  Body,
  Controller,
  Get,
  NotFoundException,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ArrayNotEmpty, IsArray, IsOptional, IsString } from 'class-validator';
import {
  UnknownWebhookError,
  WebhookArgumentError,
  WebhookDeliveries,
  WebhookEndpointUrlError,
  WebhookEndpoints,
  WebhookNotFoundError,
} from '../lib/index.js';

export class RegisterEndpoint {
  @ApiProperty({ example: 'http://127.0.0.1:9000/webhooks' })
  @IsString()
  url: string;

  @ApiPropertyOptional({ example: ['new-subscription'], default: ['new-subscription'] })
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @IsString({ each: true })
  events?: string[];

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  description?: string;
}

/** The seed's "dashboard": where customers register the URLs that receive webhooks. */
@ApiTags('dashboard')
@Controller('dashboard')
export class DashboardController {
  constructor(
    private readonly endpoints: WebhookEndpoints,
    private readonly deliveries: WebhookDeliveries,
  ) {}

  /** Registers an endpoint; the answer holds its signing secret (shown only here). */
  @Post('endpoints')
  async register(@Body() input: RegisterEndpoint) {
    try {
      return await this.endpoints.add({
        url: input.url,
        events: input.events ?? ['new-subscription'],
        description: input.description,
      });
    } catch (error) {
      throw asBadRequest(error);
    }
  }

  /** Registered endpoints, without their secrets. */
  @Get('endpoints')
  async list() {
    return (await this.endpoints.list()).map(({ secret: _secret, ...endpoint }) => endpoint);
  }

  /** The delivery log, newest first: every attempt with status, duration and error. */
  @Get('deliveries')
  async log(@Query('status') status?: 'pending' | 'delivered' | 'failed') {
    try {
      return await this.deliveries.list({ status, limit: 50 });
    } catch (error) {
      throw asBadRequest(error);
    }
  }

  /** Sends a message again to every endpoint it was meant for. */
  @Post('messages/:id/redeliver')
  async redeliver(@Param('id') id: string) {
    try {
      return await this.deliveries.redeliver(id);
    } catch (error) {
      if (error instanceof WebhookNotFoundError) throw new NotFoundException(error.message);
      throw error;
    }
  }
}

/** The library's refusals of what the caller sent, as 400s; anything else stays a 500. */
function asBadRequest(error: unknown): unknown {
  const refusal =
    error instanceof WebhookEndpointUrlError ||
    error instanceof UnknownWebhookError ||
    error instanceof WebhookArgumentError;
  return refusal ? new BadRequestException(error.message) : error;
}
