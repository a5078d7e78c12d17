import 'reflect-metadata';
import type { INestApplication, Provider, Type } from '@nestjs/common';
import type { OpenAPIObject, SchemaObject } from '@nestjs/swagger';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhooksModule, withWebhooks } from '../../../lib/index.js';
import {
  documentNotCloneable,
  operationIdConflict,
  schemaNameConflict,
} from '../../../lib/webhooks.messages.js';
import {
  AddressChangedWebhook,
  RenamedStatementSentWebhook,
  ShipmentSentWebhook,
  StatementSentWebhook,
} from '../../fixtures/docs/conflicting-schemas.webhooks.js';
import { LegacyController } from '../../fixtures/docs/legacy.controller.js';
import {
  TicketClaimedWebhook,
  TicketMovedWebhook,
  TicketOpenedWebhook,
  TicketReopenedWebhook,
} from '../../fixtures/docs/operation-ids.webhooks.js';
import { OrderUpdatedWebhook } from '../../fixtures/docs/order-events.webhook.js';
import { assertValidOpenApi31 } from '../../support/openapi-validators.js';
import { createApp, danglingRefs, swaggerDocument } from './docs-helpers.js';

const apps: INestApplication[] = [];

async function appWith(providers: Provider[], controllers: Type<unknown>[] = []) {
  const app = await createApp({ imports: [WebhooksModule.forRoot()], controllers, providers });
  apps.push(app);
  await app.init();
  return app;
}

function failure(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('expected a throw');
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

describe('withWebhooks: two classes with one schema name', () => {
  it('throws, naming both classes and where they are used, and suggests @ApiSchema', async () => {
    const app = await appWith([ShipmentSentWebhook, StatementSentWebhook]);

    const error = failure(() => withWebhooks(app, swaggerDocument(app)));

    // Catalog order: 'shipment-sent' before 'statement-sent'.
    expect(error.message).toBe(
      schemaNameConflict(
        'Address',
        'Address (the type of Shipment.to)',
        'Address (the type of Statement.billTo)',
      ),
    );
    expect(error.message).toContain("@ApiSchema({ name: '...' })");
  });

  it('throws when a body class has the name of a DTO nested in another body', async () => {
    const app = await appWith([AddressChangedWebhook, ShipmentSentWebhook]);

    expect(() => withWebhooks(app, swaggerDocument(app))).toThrow(
      schemaNameConflict(
        'Address',
        'Address (Address, a webhook body)',
        'Address (the type of Shipment.to)',
      ),
    );
  });

  it('documents both once one of them has its own name through @ApiSchema', async () => {
    const app = await appWith([ShipmentSentWebhook, RenamedStatementSentWebhook]);

    const document = withWebhooks(app, swaggerDocument(app));

    const schemas = document.components!.schemas as Record<string, SchemaObject>;
    expect(Object.keys(schemas.Address!.properties!)).toEqual(['street']);
    expect(Object.keys(schemas.BillingAddress!.properties!)).toEqual(['iban']);
    expect(schemas.RenamedStatement!.properties!.billTo).toEqual({
      $ref: '#/components/schemas/BillingAddress',
    });
    expect(danglingRefs(document)).toEqual([]);
    await assertValidOpenApi31(document);
  });

  it('does not throw for schemas already in the input document, nor for a class met twice', async () => {
    // LegacyProfile.home and Order.shippingAddress are the same Address class: the route put its
    // schema in the input, and Order's body and nested DTOs meet it again.
    const app = await appWith([OrderUpdatedWebhook], [LegacyController]);
    const input = swaggerDocument(app);
    expect(input.components!.schemas).toHaveProperty('Address');

    const document = withWebhooks(app, input);

    expect(document.components!.schemas).toHaveProperty('Order');
    expect(withWebhooks(app, document)).toStrictEqual(document);
  });
});

describe('withWebhooks: operationIds', () => {
  it('throws when a chosen operationId is taken by a route, naming both', async () => {
    const app = await appWith([TicketClaimedWebhook], [LegacyController]);

    expect(() => withWebhooks(app, swaggerDocument(app))).toThrow(
      operationIdConflict(
        'profile_updatedprofile_updated_post',
        "TicketClaimedWebhook.ticketClaimed() (POST of webhook 'ticket-claimed')",
        'the path operation POST /legacy',
      ),
    );
  });

  it('throws when two webhook operations choose the same operationId, naming both', async () => {
    const app = await appWith([TicketMovedWebhook]);

    expect(() => withWebhooks(app, swaggerDocument(app))).toThrow(
      operationIdConflict(
        'moveTicket',
        "TicketMovedWebhook.ticketReplaced() (PUT of webhook 'ticket-moved')",
        "TicketMovedWebhook.ticketMoved() (POST of webhook 'ticket-moved')",
      ),
    );
  });

  it('keeps a chosen operationId and suffixes the default one it collides with', async () => {
    const app = await appWith([TicketOpenedWebhook, TicketReopenedWebhook]);

    const document = withWebhooks(app, swaggerDocument(app));

    expect(document.webhooks!['ticket-reopened']!.post!.operationId).toBe(
      'ticket_openedticket_opened_post',
    );
    expect(document.webhooks!['ticket-opened']!.post!.operationId).toBe(
      'ticket_openedticket_opened_post_2',
    );
    expect(withWebhooks(app, document)).toStrictEqual(document);
  });
});

describe('withWebhooks: a document that cannot be copied', () => {
  it('says where the function sits instead of a bare DataCloneError', async () => {
    const app = await appWith([OrderUpdatedWebhook], [LegacyController]);
    const input: OpenAPIObject = swaggerDocument(app);
    (input.paths['/legacy']!.post as unknown as Record<string, unknown>)['x-handler'] = () => 1;

    const error = failure(() => withWebhooks(app, input));

    expect(error.message).toBe(
      documentNotCloneable('document.paths./legacy.post.x-handler is a function'),
    );
    expect(error.cause).toBeInstanceOf(Error);
  });
});
