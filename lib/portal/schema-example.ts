/** A JSON schema as OpenAPI 3.1 documents have them: only what examples are made from. */
type Schema = Record<string, unknown>;
type Schemas = Record<string, Schema>;

const REF_PREFIX = '#/components/schemas/';

/** The schema with every `$ref` to `schemas` written in place; a cycle keeps its `$ref`. */
export function inlineSchema(schema: unknown, schemas: Schemas, within: string[] = []): unknown {
  if (Array.isArray(schema)) return schema.map((item) => inlineSchema(item, schemas, within));
  if (typeof schema !== 'object' || schema === null) return schema;
  const ref = (schema as Schema).$ref;
  if (typeof ref === 'string' && ref.startsWith(REF_PREFIX)) {
    const name = ref.slice(REF_PREFIX.length);
    const target = schemas[name];
    if (!target || within.includes(name)) return schema;
    return { title: name, ...(inlineSchema(target, schemas, [...within, name]) as Schema) };
  }
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [key, inlineSchema(value, schemas, within)]),
  );
}

/**
 * An example value for a schema with its `$ref`s inlined: the schema's own `example` (or first
 * of `examples`), `default`, `const` or first `enum` value where it gives one, otherwise a value
 * of its type within its bounds (lengths, counts, minimum and maximum, `multipleOf`; not
 * `pattern`): every property of an object, `minItems` items (or one) of an array. Made the same
 * way every time, so a test event's body is stable.
 */
export function exampleOf(schema: unknown, depth = 0): unknown {
  if (typeof schema !== 'object' || schema === null || depth > 16) return null;
  const s = schema as Schema;
  if (s.example !== undefined) return s.example;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  if (s.const !== undefined) return s.const;
  if (s.default !== undefined) return s.default;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  for (const key of ['allOf', 'oneOf', 'anyOf'] as const) {
    const parts = s[key];
    if (!Array.isArray(parts) || parts.length === 0) continue;
    const examples = parts.map((part) => exampleOf(part, depth + 1));
    // Every part of an allOf holds: objects merge; anything else is the first part's.
    if (key === 'allOf' && examples.every(isPlainObject)) return Object.assign({}, ...examples);
    return examples[0];
  }
  switch (typeOf(s)) {
    case 'object': {
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      return Object.fromEntries(
        Object.entries(properties).map(([name, property]) => [
          name,
          exampleOf(property, depth + 1),
        ]),
      );
    }
    case 'array': {
      if (s.items === undefined) return [];
      const count = typeof s.minItems === 'number' ? s.minItems : 1;
      const most = typeof s.maxItems === 'number' ? s.maxItems : count;
      return Array.from({ length: Math.min(count, most) }, () => exampleOf(s.items, depth + 1));
    }
    case 'string':
      return stringExample(s);
    case 'integer':
      return numberExample(s, true);
    case 'number':
      return numberExample(s, false);
    case 'boolean':
      return true;
    default:
      return null;
  }
}

const isPlainObject = (value: unknown) =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The least value the bounds allow (0 when they allow it), on a `multipleOf` when one is set. */
function numberExample(schema: Schema, integer: boolean): number {
  const num = (key: string) =>
    typeof schema[key] === 'number' ? (schema[key] as number) : undefined;
  const step = num('multipleOf') ?? (integer ? 1 : undefined);
  const minimum = num('minimum');
  const above = num('exclusiveMinimum');
  const maximum = num('maximum') ?? num('exclusiveMaximum');
  let value = minimum ?? (above !== undefined ? above + (step ?? 1) : undefined);
  if (value === undefined) value = maximum !== undefined && maximum < 0 ? maximum : 0;
  if (step !== undefined) {
    value = Math.ceil(value / step) * step;
    if (above !== undefined && value <= above) value += step;
    if (num('exclusiveMaximum') !== undefined && value >= num('exclusiveMaximum')!) value -= step;
    else if (num('maximum') !== undefined && value > num('maximum')!) value -= step;
  }
  return value;
}

/** The schema's type; of a 3.1 list such as `['string', 'null']`, the first that is not null. */
function typeOf(schema: Schema): string | undefined {
  const { type } = schema;
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return type.find((name) => name !== 'null');
  if (schema.properties) return 'object';
  if (schema.items) return 'array';
  return undefined;
}

const STRING_FORMATS: Record<string, string> = {
  'date-time': '2026-01-01T12:00:00.000Z',
  date: '2026-01-01',
  time: '12:00:00',
  email: 'user@example.com',
  uri: 'https://example.com/',
  url: 'https://example.com/',
  uuid: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
  hostname: 'example.com',
};

function stringExample(schema: Schema): string {
  const format = typeof schema.format === 'string' ? STRING_FORMATS[schema.format] : undefined;
  if (format) return format;
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity;
  return 'string'.padEnd(min, 'x').slice(0, Math.max(min, max));
}
