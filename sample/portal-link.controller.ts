import { BadRequestException, Controller, Get, Query, Req } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiQuery, ApiTags } from '@nestjs/swagger';
import { WebhookPortal } from '../lib/index.js';

export class PortalLink {
  @ApiProperty({ example: 'http://127.0.0.1:8000/webhooks/portal#token=v1.…' })
  url: string;

  @ApiProperty()
  expiresAt: Date;
}

/**
 * DEMO ONLY: hands anyone a portal link for any tenant. A real app makes links only for the
 * signed-in customer's own tenant (behind its auth guard), or mounts the portal with
 * `authorize` instead.
 */
@ApiTags('portal (demo only)')
@Controller('portal-link')
export class PortalLinkController {
  constructor(private readonly portal: WebhookPortal) {}

  @Get()
  @ApiOperation({
    summary: 'DEMO ONLY: a link to the webhooks portal of a tenant',
    description:
      'Open the `url` in a browser: the tenant portal, where the tenant adds endpoints, sees ' +
      'every delivery and replays it. Never expose such a route in production.',
  })
  @ApiQuery({ name: 'tenant', example: 'demo' })
  async link(
    @Query('tenant') tenant: string | undefined,
    @Req() request: { protocol: string; headers: { host?: string } },
  ): Promise<PortalLink> {
    if (!tenant) throw new BadRequestException('Give the tenant: /portal-link?tenant=demo');
    const { url, expiresAt } = await this.portal.createLink(tenant);
    return { url: `${request.protocol}://${request.headers.host}${url}`, expiresAt };
  }
}
