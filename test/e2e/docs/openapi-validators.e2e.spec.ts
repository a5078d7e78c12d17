import { describe, expect, it } from 'vitest';
import {
  assertValidOpenApi31,
  redoclyProblems,
  schemaValidatorProblems,
} from '../../support/openapi-validators.js';

const info = { title: 'Broken on purpose', version: '1.0.0' };
const ok = { description: 'ok' };

const valid = {
  openapi: '3.1.0',
  info,
  paths: {},
  webhooks: {
    ping: {
      post: {
        requestBody: {
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Ping' } } },
        },
        responses: { '2XX': ok },
      },
    },
  },
  components: {
    schemas: {
      Ping: {
        type: 'object',
        properties: {
          note: { type: ['string', 'null'] },
          count: { type: 'integer', exclusiveMinimum: 0 },
        },
      },
    },
  },
};

const withSchema = (schema: object) => ({
  ...valid,
  components: { schemas: { ...valid.components.schemas, Broken: schema } },
});

describe('assertValidOpenApi31', () => {
  it('accepts a valid OpenAPI 3.1 document', async () => {
    await expect(assertValidOpenApi31(valid)).resolves.toBeUndefined();
    expect(await redoclyProblems(valid)).toEqual([]);
    expect(await schemaValidatorProblems(valid)).toEqual([]);
  });

  it('makes each validator reject a 3.1 document without info', async () => {
    const { info: _dropped, ...broken } = valid;
    expect(await redoclyProblems(broken)).toEqual([expect.stringContaining('`info`')]);
    expect(await schemaValidatorProblems(broken)).toEqual([expect.stringContaining("'info'")]);
    await expect(assertValidOpenApi31(broken)).rejects.toThrow(
      /@redocly\/openapi-core \(struct\):\n.*info[\s\S]*@seriousme\/openapi-schema-validator:\n.*info/,
    );
  });

  it('makes each validator reject a response without its description', async () => {
    const broken = {
      ...valid,
      webhooks: { ping: { post: { ...valid.webhooks.ping.post, responses: { '2XX': {} } } } },
    };
    expect(await redoclyProblems(broken)).toEqual([
      expect.stringMatching(/^#\/webhooks\/ping\/post\/responses\/2XX: .*`description`/),
    ]);
    expect(await schemaValidatorProblems(broken)).toContainEqual(
      expect.stringMatching(/^#\/webhooks\/ping\/post\/responses\/2XX: .*'description'/),
    );
  });

  it('rejects `nullable`, a 3.0 idiom, through Redocly’s struct rule', async () => {
    const broken = withSchema({ type: 'string', nullable: true });
    expect(await redoclyProblems(broken)).toEqual([
      '#/components/schemas/Broken/nullable: Property `nullable` is not expected here. (struct)',
    ]);
    await expect(assertValidOpenApi31(broken)).rejects.toThrow(/Broken\/nullable/);
  });

  it('rejects a boolean exclusiveMinimum, a 3.0 idiom, through Redocly’s struct rule', async () => {
    const broken = withSchema({ type: 'number', minimum: 0, exclusiveMinimum: true });
    expect(await redoclyProblems(broken)).toEqual([
      expect.stringMatching(/^#\/components\/schemas\/Broken\/exclusiveMinimum: .*boolean/),
    ]);
    await expect(assertValidOpenApi31(broken)).rejects.toThrow(/exclusiveMinimum/);
  });

  it('rejects a reference to a missing schema through the schema validator', async () => {
    const broken = withSchema({ $ref: '#/components/schemas/Missing' });
    expect(await schemaValidatorProblems(broken)).toEqual([
      expect.stringContaining('#/components/schemas/Missing'),
    ]);
    await expect(assertValidOpenApi31(broken)).rejects.toThrow(/Missing/);
  });

  it('rejects a valid document that declares OpenAPI 3.0', async () => {
    const legacy = { ...valid, openapi: '3.0.3', webhooks: undefined };
    await expect(assertValidOpenApi31(legacy)).rejects.toThrow(/openapi is "3.0.3", expected 3.1/);
  });

  it('does not modify the document it checks', async () => {
    const document = withSchema({ type: 'string', nullable: true });
    const before = structuredClone(document);
    await assertValidOpenApi31(document).catch(() => undefined);
    expect(document).toStrictEqual(before);
  });
});
