import 'reflect-metadata';
import { ApiProperty, generateSchema, type OpenAPIObject } from '@nestjs/swagger';
// The named export: under nodenext the default import of this CommonJS module is not the class.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { normalizeDocument, normalizeSchema } from '../../lib/openapi/openapi-31.normalizer.js';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

const REF = '#/components/schemas/Pet';
const PET = {
  type: 'object',
  properties: { name: { type: 'string' } },
  required: ['name'],
};

/** Ajv for JSON Schema 2020-12 that still refuses keywords it does not know (`nullable`, `example`). */
function newAjv() {
  return new Ajv2020({ strict: false, strictSchema: true, allErrors: true });
}

/** Compiles a normalized schema, its `#/components/schemas/*` references served from `$defs`. */
function compile(schema: unknown, components: Record<string, unknown> = { Pet: PET }) {
  const rewrite = (value: unknown): Record<string, unknown> =>
    JSON.parse(JSON.stringify(value).replaceAll('#/components/schemas/', '#/$defs/'));
  return newAjv().compile({ ...rewrite(schema), $defs: rewrite(components) });
}

describe('normalizeSchema', () => {
  describe('nullable', () => {
    it('adds null to a string type', () => {
      expect(normalizeSchema({ type: 'string', nullable: true })).toStrictEqual({
        type: ['string', 'null'],
      });
    });

    it('adds null to the type and to the enum of a nullable enum', () => {
      const schema = normalizeSchema({ type: 'string', enum: ['a', 'b'], nullable: true });

      expect(schema).toStrictEqual({ type: ['string', 'null'], enum: ['a', 'b', null] });
      const validate = compile(schema);
      expect([validate('a'), validate(null), validate('c'), validate(1)]).toStrictEqual([
        true,
        true,
        false,
        false,
      ]);
    });

    it('adds null only once to an enum or a type list that already has it', () => {
      expect(
        normalizeSchema({ type: ['string', 'null'], enum: ['a', null], nullable: true }),
      ).toStrictEqual({ type: ['string', 'null'], enum: ['a', null] });
      expect(normalizeSchema({ type: ['string', 'integer'], nullable: true })).toStrictEqual({
        type: ['string', 'integer', 'null'],
      });
    });

    it('adds null to a typeless enum', () => {
      expect(normalizeSchema({ enum: [1, 2], nullable: true })).toStrictEqual({
        enum: [1, 2, null],
      });
    });

    it('offers null beside a $ref', () => {
      const schema = normalizeSchema({ $ref: REF, nullable: true });

      expect(schema).toStrictEqual({ anyOf: [{ $ref: REF }, { type: 'null' }] });
      const validate = compile(schema);
      expect([validate(null), validate({ name: 'Rex' }), validate({}), validate('Rex')]).toEqual([
        true,
        true,
        false,
        false,
      ]);
    });

    it('keeps the annotations of a nullable $ref outside the anyOf', () => {
      expect(
        normalizeSchema({ $ref: REF, nullable: true, description: 'The pet', readOnly: true }),
      ).toStrictEqual({
        description: 'The pet',
        readOnly: true,
        anyOf: [{ $ref: REF }, { type: 'null' }],
      });
    });

    it('unwraps a nullable allOf: [$ref], keeping its description outside', () => {
      const schema = normalizeSchema({
        allOf: [{ $ref: REF }],
        nullable: true,
        description: 'The pet, if any',
        example: { name: 'Rex' },
      });

      expect(schema).toStrictEqual({
        description: 'The pet, if any',
        examples: [{ name: 'Rex' }],
        anyOf: [{ $ref: REF }, { type: 'null' }],
      });
      const validate = compile(schema);
      expect([validate(null), validate({ name: 'Rex' }), validate({ name: 1 })]).toEqual([
        true,
        true,
        false,
      ]);
    });

    it("allows null for @nestjs/swagger's nullable nested DTO (type object + allOf [$ref])", () => {
      // What `@ApiProperty({ type: () => Pet, nullable: true })` generates.
      const schema = normalizeSchema({ nullable: true, type: 'object', allOf: [{ $ref: REF }] });

      const validate = compile(schema);
      expect(validate(null)).toBe(true);
      expect(validate({ name: 'Rex' })).toBe(true);
      expect(validate({})).toBe(false);
      expect(validate('Rex')).toBe(false);
      expect(JSON.stringify(schema)).not.toContain('nullable');
    });

    it('keeps a nullable allOf of several schemas whole inside the anyOf', () => {
      expect(
        normalizeSchema({
          allOf: [{ $ref: REF }, { properties: { age: { type: 'integer', nullable: true } } }],
          nullable: true,
          title: 'Aged pet',
        }),
      ).toStrictEqual({
        title: 'Aged pet',
        anyOf: [
          {
            allOf: [{ $ref: REF }, { properties: { age: { type: ['integer', 'null'] } } }],
          },
          { type: 'null' },
        ],
      });
    });

    it('adds a null branch to a nullable oneOf or anyOf', () => {
      expect(
        normalizeSchema({ oneOf: [{ $ref: REF }, { type: 'string' }], nullable: true }),
      ).toStrictEqual({ oneOf: [{ $ref: REF }, { type: 'string' }, { type: 'null' }] });
      expect(
        normalizeSchema({ anyOf: [{ type: 'integer' }, { type: 'string' }], nullable: true }),
      ).toStrictEqual({ anyOf: [{ type: 'integer' }, { type: 'string' }, { type: 'null' }] });
    });

    it('drops nullable: false and leaves the rest alone', () => {
      expect(normalizeSchema({ type: 'string', nullable: false, minLength: 1 })).toStrictEqual({
        type: 'string',
        minLength: 1,
      });
      expect(normalizeSchema({ $ref: REF, nullable: false })).toStrictEqual({ $ref: REF });
    });

    it('reaches nested arrays', () => {
      const schema = normalizeSchema({
        type: 'array',
        nullable: true,
        items: { type: 'array', items: { type: 'string', nullable: true, example: 'x' } },
      });

      expect(schema).toStrictEqual({
        type: ['array', 'null'],
        items: { type: 'array', items: { type: ['string', 'null'], examples: ['x'] } },
      });
      const validate = compile(schema);
      expect([
        validate(null),
        validate([['a', null], []]),
        validate([[1]]),
        validate([null]),
      ]).toEqual([true, true, false, false]);
    });

    it('reaches properties, additionalProperties, composition and conditionals', () => {
      expect(
        normalizeSchema({
          type: 'object',
          properties: {
            pet: { $ref: REF, nullable: true },
            tags: { type: 'array', items: { $ref: REF, nullable: true } },
          },
          additionalProperties: { type: 'integer', nullable: true },
          patternProperties: { '^x-': { type: 'string', nullable: true } },
          not: { type: 'boolean', nullable: true },
          if: { properties: { kind: { const: 'a', example: 'a' } } },
          // oxlint-disable-next-line unicorn/no-thenable -- JSON Schema's `then`, not a promise
          then: { required: ['pet'] },
          anyOf: [{ type: 'object', nullable: false }],
        }),
      ).toStrictEqual({
        type: 'object',
        properties: {
          pet: { anyOf: [{ $ref: REF }, { type: 'null' }] },
          tags: { type: 'array', items: { anyOf: [{ $ref: REF }, { type: 'null' }] } },
        },
        additionalProperties: { type: ['integer', 'null'] },
        patternProperties: { '^x-': { type: ['string', 'null'] } },
        not: { type: ['boolean', 'null'] },
        if: { properties: { kind: { const: 'a', examples: ['a'] } } },
        // oxlint-disable-next-line unicorn/no-thenable -- JSON Schema's `then`, not a promise
        then: { required: ['pet'] },
        anyOf: [{ type: 'object' }],
      });
    });
  });

  describe('exclusive bounds', () => {
    it('turns exclusiveMinimum/Maximum: true into the bound itself', () => {
      const schema = normalizeSchema({
        type: 'number',
        minimum: 1,
        exclusiveMinimum: true,
        maximum: 10,
        exclusiveMaximum: true,
      });

      expect(schema).toStrictEqual({ type: 'number', exclusiveMinimum: 1, exclusiveMaximum: 10 });
      const validate = compile(schema);
      expect([validate(1), validate(1.5), validate(9.5), validate(10)]).toEqual([
        false,
        true,
        true,
        false,
      ]);
    });

    it('drops exclusiveMinimum/Maximum: false, keeping the inclusive bounds', () => {
      const schema = normalizeSchema({
        type: 'integer',
        minimum: 0,
        exclusiveMinimum: false,
        maximum: 5,
        exclusiveMaximum: false,
      });

      expect(schema).toStrictEqual({ type: 'integer', minimum: 0, maximum: 5 });
      const validate = compile(schema);
      expect([validate(0), validate(5), validate(-1), validate(6)]).toEqual([
        true,
        true,
        false,
        false,
      ]);
    });

    it('drops a boolean flag without a bound and keeps a numeric one', () => {
      expect(normalizeSchema({ type: 'number', exclusiveMinimum: true })).toStrictEqual({
        type: 'number',
      });
      expect(normalizeSchema({ type: 'number', exclusiveMaximum: 3, minimum: 1 })).toStrictEqual({
        type: 'number',
        exclusiveMaximum: 3,
        minimum: 1,
      });
    });
  });

  describe('examples', () => {
    it('turns example into a one-item examples list', () => {
      expect(normalizeSchema({ type: 'string', example: 'alice' })).toStrictEqual({
        type: 'string',
        examples: ['alice'],
      });
      expect(normalizeSchema({ type: 'array', items: {}, example: ['a', 'b'] })).toStrictEqual({
        type: 'array',
        items: {},
        examples: [['a', 'b']],
      });
      expect(normalizeSchema({ type: 'string', nullable: true, example: null })).toStrictEqual({
        type: ['string', 'null'],
        examples: [null],
      });
    });

    it('keeps an existing examples list over example', () => {
      expect(
        normalizeSchema({ type: 'string', example: 'one', examples: ['two', 'three'] }),
      ).toStrictEqual({ type: 'string', examples: ['two', 'three'] });
    });
  });

  it('spells tuple items as prefixItems', () => {
    expect(
      normalizeSchema({
        type: 'array',
        items: [{ type: 'string', nullable: true }, { $ref: REF }],
      }),
    ).toStrictEqual({ type: 'array', prefixItems: [{ type: ['string', 'null'] }, { $ref: REF }] });
  });

  it('makes prefixItems of a tuple `items` only, never of another keyword holding a list', () => {
    const odd = { type: 'array', contains: [{ type: 'string' }], not: [{ type: 'number' }] };

    expect(normalizeSchema(odd)).toStrictEqual(odd);
    expect(
      normalizeSchema({
        type: 'object',
        additionalProperties: [{ type: 'string', nullable: true }],
      }),
    ).toStrictEqual({ type: 'object', additionalProperties: [{ type: 'string', nullable: true }] });
  });

  it('returns non-schemas as they are', () => {
    expect(normalizeSchema(true)).toBe(true);
    expect(normalizeSchema(null)).toBe(null);
    expect(normalizeSchema(undefined)).toBe(undefined);
    const list = [{ type: 'string', nullable: true }];
    expect(normalizeSchema(list)).toBe(list);
  });

  it('does not touch its (deep-frozen) input', () => {
    const input = deepFreeze({
      type: 'object',
      nullable: true,
      example: { pet: null },
      properties: {
        pet: { allOf: [{ $ref: REF }], nullable: true, description: 'Pet' },
        choice: { type: 'string', enum: ['a', 'b'], nullable: true },
        ratio: { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 1 },
        grid: {
          type: 'array',
          items: { type: 'array', items: { type: 'integer', nullable: true } },
        },
        tuple: { type: 'array', items: [{ type: 'string', nullable: true }] },
        either: { oneOf: [{ type: 'string' }], nullable: true },
      },
      additionalProperties: { $ref: REF, nullable: true },
    });
    const before = JSON.stringify(input);

    const output = normalizeSchema(input);

    expect(JSON.stringify(input)).toBe(before);
    expect(output).not.toBe(input);
    expect(JSON.stringify(output)).not.toContain('nullable');
    expect(JSON.stringify(output)).not.toContain('"example"');
  });

  it('is idempotent', () => {
    const input = {
      type: 'object',
      properties: {
        a: { type: 'string', enum: ['x'], nullable: true, example: 'x' },
        b: { allOf: [{ $ref: REF }], nullable: true, description: 'B' },
        c: { type: 'number', minimum: 2, exclusiveMinimum: true },
      },
    };
    const once = normalizeSchema(input);

    expect(normalizeSchema(once)).toStrictEqual(once);
  });
});

describe('JSON Schema 2020-12 validity (ajv)', () => {
  const tricky: Record<string, unknown> = {
    'nullable string': { type: 'string', nullable: true },
    'nullable enum': { type: 'string', enum: ['a', 'b'], nullable: true },
    'nullable $ref': { $ref: REF, nullable: true },
    'nullable allOf [$ref]': { allOf: [{ $ref: REF }], nullable: true, description: 'd' },
    'swagger nullable DTO': { nullable: true, type: 'object', allOf: [{ $ref: REF }] },
    'nested arrays': {
      type: 'array',
      items: { type: 'array', items: { type: 'string', nullable: true } },
    },
    'exclusive bounds': { type: 'number', minimum: 1, exclusiveMinimum: true, maximum: 2 },
    example: { type: 'string', example: 'x', nullable: false },
    tuple: { type: 'array', items: [{ type: 'string' }, { type: 'integer', nullable: true }] },
  };

  it.each(Object.entries(tricky))('%s compiles under ajv 2020 once normalized', (_, schema) => {
    expect(() => compile(normalizeSchema(schema))).not.toThrow();
  });

  it('refuses a 3.0 boolean exclusiveMinimum, so the check above can fail', () => {
    expect(() => compile({ type: 'number', minimum: 1, exclusiveMinimum: true })).toThrow();
    expect(() => compile({ type: 'string', example: 'x' })).toThrow(/unknown keyword/);
  });

  it('accepts every schema @nestjs/swagger generates for a DTO, once normalized', () => {
    class Owner {
      @ApiProperty() name: string;
    }
    class Pet {
      @ApiProperty({ example: 'Rex' }) name: string;
      @ApiProperty({ type: String, nullable: true }) nickname: string | null;
      @ApiProperty({ enum: ['dog', 'cat'], nullable: true }) kind: 'dog' | 'cat' | null;
      @ApiProperty({ type: () => Owner, nullable: true }) owner: Owner | null;
      @ApiProperty({ type: [Owner] }) previousOwners: Owner[];
      @ApiProperty({ minimum: 0, exclusiveMinimum: true } as object) weight: number;
    }
    const { schemas } = generateSchema(Pet, {}) as { schemas: Record<string, unknown> };
    const normalized = Object.fromEntries(
      Object.entries(schemas).map(([name, schema]) => [name, normalizeSchema(schema)]),
    );

    const validate = compile({ $ref: '#/components/schemas/Pet' }, normalized);

    const pet = {
      name: 'Rex',
      nickname: null,
      kind: null,
      owner: null,
      previousOwners: [{ name: 'Ann' }],
      weight: 3,
    };
    expect(validate(pet)).toBe(true);
    expect(validate({ ...pet, owner: { name: 'Bob' }, kind: 'dog', nickname: 'R' })).toBe(true);
    expect(validate({ ...pet, kind: 'fish' })).toBe(false);
    expect(validate({ ...pet, weight: 0 })).toBe(false);
    expect(validate({ ...pet, owner: {} })).toBe(false);
    expect(validate({ ...pet, nickname: 7 })).toBe(false);
  });
});

describe('normalizeDocument', () => {
  const nullableString = () => ({ type: 'string', nullable: true });
  const converted = { type: ['string', 'null'] };
  const media = () => ({ 'application/json': { schema: nullableString(), example: 'kept' } });
  const convertedMedia = { 'application/json': { schema: converted, example: 'kept' } };
  const operation = () => ({
    operationId: 'op',
    parameters: [
      { name: 'q', in: 'query', schema: nullableString(), example: 'kept' },
      { name: 'filter', in: 'query', content: media() },
      { $ref: '#/components/parameters/Shared' },
    ],
    requestBody: { content: media() },
    responses: {
      '200': {
        description: 'ok',
        content: media(),
        headers: {
          'x-rate': { schema: nullableString() },
          'x-shared': { $ref: '#/components/headers/Rate' },
        },
      },
      '404': { $ref: '#/components/responses/NotFound' },
    },
  });
  const convertedOperation = {
    operationId: 'op',
    parameters: [
      { name: 'q', in: 'query', schema: converted, example: 'kept' },
      { name: 'filter', in: 'query', content: convertedMedia },
      { $ref: '#/components/parameters/Shared' },
    ],
    requestBody: { content: convertedMedia },
    responses: {
      '200': {
        description: 'ok',
        content: convertedMedia,
        headers: {
          'x-rate': { schema: converted },
          'x-shared': { $ref: '#/components/headers/Rate' },
        },
      },
      '404': { $ref: '#/components/responses/NotFound' },
    },
  };

  const document = deepFreeze({
    openapi: '3.0.0',
    info: { title: 'Pets', version: '1' },
    paths: {
      '/pets': {
        parameters: [{ name: 'tenant', in: 'header', schema: nullableString() }],
        get: operation(),
        post: {
          ...operation(),
          callbacks: {
            onAdopted: { '{$request.body#/callbackUrl}': { post: operation() } },
            shared: { $ref: '#/components/callbacks/Shared' },
          },
        },
      },
    },
    webhooks: { 'pet.adopted': { post: operation(), put: operation() } },
    components: {
      schemas: { Pet: { type: 'object', properties: { name: nullableString() } } },
      parameters: { Shared: { name: 's', in: 'query', schema: nullableString() } },
      headers: { Rate: { schema: nullableString() } },
      responses: {
        NotFound: {
          description: 'nope',
          content: media(),
          headers: { 'x-reason': { schema: nullableString() } },
        },
      },
      requestBodies: { PetBody: { content: media() } },
      pathItems: { Reusable: { delete: operation() } },
      callbacks: { Shared: { '{$request.body#/url}': { post: operation() } } },
    },
  }) as unknown as OpenAPIObject;

  it('reaches every schema of the document and sets openapi 3.1.0', () => {
    expect(normalizeDocument(document)).toStrictEqual({
      openapi: '3.1.0',
      info: { title: 'Pets', version: '1' },
      paths: {
        '/pets': {
          parameters: [{ name: 'tenant', in: 'header', schema: converted }],
          get: convertedOperation,
          post: {
            ...convertedOperation,
            callbacks: {
              onAdopted: { '{$request.body#/callbackUrl}': { post: convertedOperation } },
              shared: { $ref: '#/components/callbacks/Shared' },
            },
          },
        },
      },
      webhooks: { 'pet.adopted': { post: convertedOperation, put: convertedOperation } },
      components: {
        schemas: { Pet: { type: 'object', properties: { name: converted } } },
        parameters: { Shared: { name: 's', in: 'query', schema: converted } },
        headers: { Rate: { schema: converted } },
        responses: {
          NotFound: {
            description: 'nope',
            content: convertedMedia,
            headers: { 'x-reason': { schema: converted } },
          },
        },
        requestBodies: { PetBody: { content: convertedMedia } },
        pathItems: { Reusable: { delete: convertedOperation } },
        callbacks: { Shared: { '{$request.body#/url}': { post: convertedOperation } } },
      },
    });
  });

  it('reaches the header schemas of a multipart encoding', () => {
    const encoded = (schema: unknown) => ({
      content: {
        'multipart/form-data': {
          schema: { type: 'object', properties: { file: schema } },
          encoding: {
            file: {
              contentType: 'image/png',
              headers: {
                'x-rate': { schema },
                'x-shared': { $ref: '#/components/headers/Rate' },
              },
            },
            plain: { contentType: 'text/plain' },
          },
        },
      },
    });
    const input = deepFreeze({
      openapi: '3.0.0',
      info: { title: 't', version: '1' },
      paths: { '/upload': { post: { requestBody: encoded(nullableString()), responses: {} } } },
    }) as unknown as OpenAPIObject;

    const normalized = normalizeDocument(input) as unknown as Record<string, unknown>;

    expect(normalized.paths).toStrictEqual({
      '/upload': { post: { requestBody: encoded(converted), responses: {} } },
    });
  });

  it('leaves the (deep-frozen) input document as it was', () => {
    const before = JSON.stringify(document);

    normalizeDocument(document);

    expect(JSON.stringify(document)).toBe(before);
    expect(document.openapi).toBe('3.0.0');
  });

  it('sets openapi 3.1.0 on a document without paths or components', () => {
    expect(
      normalizeDocument({ openapi: '3.0.0', info: { title: 't', version: '1' }, paths: {} }),
    ).toStrictEqual({ openapi: '3.1.0', info: { title: 't', version: '1' }, paths: {} });
  });

  it('leaves no 3.0 idiom that ajv 2020 would refuse in the component schemas', () => {
    const normalized = normalizeDocument(document);
    const schemas = normalized.components!.schemas as Record<string, unknown>;

    for (const schema of Object.values(schemas)) {
      expect(() => compile(schema, schemas)).not.toThrow();
    }
    expect(compile({ $ref: '#/components/schemas/Pet' }, schemas)({ name: null })).toBe(true);
  });
});
