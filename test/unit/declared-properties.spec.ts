import 'reflect-metadata';
import type { Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { generateSchema, getSchemaPath, type SchemaObject } from '@nestjs/swagger';
import { describe, expect, it } from 'vitest';
import { WebhooksMetadataAccessor } from '../../lib/catalog/webhooks-metadata.accessor.js';
import {
  Account,
  AccountEvent,
  Metadata,
  Owner,
  PluginAddress,
  PluginCustomer,
  Tag,
  declaredPropertyFixtures,
} from '../fixtures/docs/declared-properties.dto.js';
import { collectRefs } from '../e2e/docs/docs-helpers.js';

const accessor = new WebhooksMetadataAccessor(new Reflector());

const schemaName = (type: Type<unknown>) => getSchemaPath(type).split('/').pop()!;

/** The accessor's view of `root` and of every DTO nested in it, read before swagger runs. */
function declaredTree(root: Type<unknown>) {
  const tree = new Map<Type<unknown>, Map<string, Type<unknown> | undefined>>();
  const pending = [root];
  for (let type = pending.pop(); type; type = pending.pop()) {
    if (tree.has(type)) continue;
    const properties = new Map(accessor.getDeclaredProperties(type));
    tree.set(type, properties);
    for (const nested of properties.values()) if (nested) pending.push(nested);
  }
  return tree;
}

describe('WebhooksMetadataAccessor.getDeclaredProperties', () => {
  // Read first, then generate: swagger copies the plugin's metadata onto the prototype as it
  // generates, which must not be what makes the two agree.
  it.each(Object.entries(declaredPropertyFixtures) as [string, Type<unknown>][])(
    '%s: keeps exactly the properties generateSchema lists, nested DTOs included',
    (_name, dto) => {
      const tree = declaredTree(dto);
      const { schemas } = generateSchema(dto);

      for (const [type, properties] of tree) {
        const schema = schemas[schemaName(type)] as SchemaObject | undefined;
        expect(schema, `the schema of ${type.name}`).toBeDefined();
        const published = (schema!.properties ?? {}) as Record<string, SchemaObject>;
        expect([...properties.keys()].sort(), type.name).toEqual(Object.keys(published).sort());
        for (const [property, nested] of properties) {
          if (nested) {
            expect(collectRefs(published[property]), `${type.name}.${property}`).toContain(
              getSchemaPath(nested),
            );
          }
        }
      }
    },
  );

  it('leaves out what only class-validator knows, hidden or not', () => {
    const account = accessor.getDeclaredProperties(Account);
    expect(account.has('internalNote')).toBe(false);
    expect(account.has('passwordHash')).toBe(false);
    expect(accessor.getDeclaredProperties(Owner).has('passwordHash')).toBe(false);
    expect(accessor.getDeclaredProperties(Tag).has('internalNote')).toBe(false);
    expect([...accessor.getDeclaredProperties(AccountEvent).keys()]).toEqual([
      'eventId',
      'account',
    ]);
    expect(accessor.getDeclaredProperties(declaredPropertyFixtures.Undocumented).size).toBe(0);
  });

  it('maps each property to its nested DTO class, lazy and array types included', () => {
    const account = accessor.getDeclaredProperties(Account);
    expect(account.get('owner')).toBe(Owner);
    expect(account.get('previousOwners')).toBe(Owner);
    expect(accessor.getDeclaredProperties(Owner).get('tags')).toBe(Tag);
    expect(account.get('display_name')).toBeUndefined();
    expect(account.has('displayName')).toBe(false);
    // Documented as a free-form object: sent as it is, not cut down to Metadata's properties.
    expect(account.has('metadata')).toBe(true);
    expect(account.get('metadata')).toBeUndefined();
    expect(Metadata).toBeDefined();
  });

  it('reads the swagger CLI plugin metadata, of the class and of its ancestors', () => {
    expect([...accessor.getDeclaredProperties(PluginAddress).keys()]).toEqual(['street', 'city']);
    const customer = accessor.getDeclaredProperties(PluginCustomer);
    expect([...customer.keys()].sort()).toEqual(['address', 'name', 'nickname']);
    expect(customer.get('address')).toBe(PluginAddress);
    expect(
      [...accessor.getDeclaredProperties(declaredPropertyFixtures.PluginVipCustomer).keys()].sort(),
    ).toEqual(['address', 'name', 'nickname', 'tier']);
  });

  it('reads the plugin metadata of ancestors before swagger has ever copied it onto them', () => {
    // Fresh classes: generateSchema, run on a class, writes the plugin's metadata onto it as
    // decorator metadata, which would hide a reader that only looks at the class itself.
    class Parent {
      id: string;
      static _OPENAPI_METADATA_FACTORY(): Record<string, object> {
        return { id: { required: true, type: () => String } };
      }
    }
    class Child extends Parent {
      note: string;
      static override _OPENAPI_METADATA_FACTORY(): Record<string, object> {
        return { note: { required: true, type: () => String } };
      }
    }

    const declared = [...accessor.getDeclaredProperties(Child).keys()].sort();

    expect(declared).toEqual(['id', 'note']);
    expect(declared).toEqual(Object.keys(generateSchema(Child).schema.properties ?? {}).sort());
  });
});
