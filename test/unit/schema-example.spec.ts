import { describe, expect, it } from 'vitest';
import { exampleOf, inlineSchema } from '../../lib/portal/schema-example.js';

describe('inlineSchema', () => {
  it('writes $refs in place, titled, and keeps the $ref of a cycle', () => {
    const schemas = {
      Order: {
        type: 'object',
        properties: {
          customer: { $ref: '#/components/schemas/Customer' },
          lines: { type: 'array', items: { $ref: '#/components/schemas/Line' } },
        },
      },
      Customer: {
        type: 'object',
        properties: { orders: { type: 'array', items: { $ref: '#/components/schemas/Order' } } },
      },
      Line: { type: 'object', properties: { sku: { type: 'string' } } },
    };
    const inlined = inlineSchema({ $ref: '#/components/schemas/Order' }, schemas) as any;
    expect(inlined.title).toBe('Order');
    expect(inlined.properties.lines.items).toEqual({
      title: 'Line',
      type: 'object',
      properties: { sku: { type: 'string' } },
    });
    expect(inlined.properties.customer.properties.orders.items).toEqual({
      $ref: '#/components/schemas/Order',
    });
    expect(inlineSchema({ $ref: '#/components/schemas/Missing' }, schemas)).toEqual({
      $ref: '#/components/schemas/Missing',
    });
  });
});

describe('exampleOf', () => {
  it("takes the schema's own example, examples, const, default or first enum value", () => {
    expect(exampleOf({ type: 'string', example: 'rick' })).toBe('rick');
    expect(exampleOf({ type: 'string', examples: ['FR', 'DE'] })).toBe('FR');
    expect(exampleOf({ const: 3 })).toBe(3);
    expect(exampleOf({ type: 'integer', default: 7 })).toBe(7);
    expect(exampleOf({ type: 'string', enum: ['gold', 'silver'] })).toBe('gold');
  });

  it('makes a value of each type, every property of an object, one item of an array', () => {
    expect(
      exampleOf({
        type: 'object',
        properties: {
          name: { type: 'string' },
          at: { type: 'string', format: 'date-time' },
          email: { type: 'string', format: 'email' },
          code: { type: 'string', minLength: 8 },
          count: { type: 'integer', minimum: 1 },
          fee: { type: 'number' },
          active: { type: 'boolean' },
          tags: { type: 'array', items: { type: 'string' } },
          note: { type: ['string', 'null'] },
          anything: {},
        },
      }),
    ).toEqual({
      name: 'string',
      at: '2026-01-01T12:00:00.000Z',
      email: 'user@example.com',
      code: 'stringxx',
      count: 1,
      fee: 0,
      active: true,
      tags: ['string'],
      note: 'string',
      anything: null,
    });
  });

  it('merges allOf, takes the first of oneOf and anyOf, and ends on a cycle', () => {
    expect(
      exampleOf({
        allOf: [
          { type: 'object', properties: { a: { type: 'integer' } } },
          { type: 'object', properties: { b: { type: 'boolean' } } },
        ],
      }),
    ).toEqual({ a: 0, b: true });
    expect(exampleOf({ oneOf: [{ type: 'string' }, { type: 'integer' }] })).toBe('string');
    expect(exampleOf({ anyOf: [{ type: 'integer' }] })).toBe(0);
    expect(exampleOf({ $ref: '#/components/schemas/Order' })).toBeNull();
  });
});

describe('exampleOf within the bounds of its schema', () => {
  it('makes examples that their schemas accept', async () => {
    const { Ajv2020 } = await import('ajv/dist/2020.js');
    const ajv = new Ajv2020({ strict: false });
    const schemas = [
      { type: 'string', maxLength: 3 },
      { type: 'string', minLength: 10, maxLength: 12 },
      { type: 'integer', exclusiveMinimum: 0 },
      { type: 'number', maximum: -1 },
      { type: 'integer', minimum: 0.5 },
      { type: 'integer', multipleOf: 5, minimum: 1 },
      { type: 'integer', minimum: 1, exclusiveMaximum: 2 },
      { type: 'array', items: { type: 'string' }, minItems: 2 },
      { type: 'array', items: { type: 'string' }, maxItems: 0 },
      { allOf: [{ type: 'string' }, { minLength: 1 }] },
      { allOf: [{ type: 'object', properties: { a: { type: 'integer' } } }, { required: ['a'] }] },
    ];
    for (const schema of schemas) {
      const example = exampleOf(schema);
      expect(
        ajv.validate(schema, example),
        `${JSON.stringify(schema)} -> ${JSON.stringify(example)}`,
      ).toBe(true);
    }
  });
});
