import type { OpenAPIObject } from '@nestjs/swagger';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// Keywords whose value is a map of name -> schema.
const SCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
// Keywords whose value is one schema.
const SCHEMA_SINGLES = [
  'items',
  'additionalProperties',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'unevaluatedItems',
  'unevaluatedProperties',
  'additionalItems',
  'contentSchema',
];
// Keywords whose value is a list of schemas.
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
// Keywords that describe a schema rather than constrain it; they stay outside an `anyOf`.
const ANNOTATIONS = new Set([
  'title',
  'description',
  'default',
  'examples',
  'readOnly',
  'writeOnly',
  'deprecated',
]);
const OPERATION_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * Converts an OpenAPI 3.0 schema object (and every schema inside it) to its OpenAPI 3.1
 * (JSON Schema 2020-12) form. Returns a new object; the input is not touched.
 */
export function normalizeSchema(schema: unknown): unknown {
  if (!isObject(schema)) return schema;
  let result: Json = { ...schema };

  for (const key of SCHEMA_MAPS) {
    if (isObject(result[key])) {
      result[key] = Object.fromEntries(
        Object.entries(result[key]).map(([name, sub]) => [name, normalizeSchema(sub)]),
      );
    }
  }
  if (Array.isArray(result.items)) {
    // 3.0 never allowed tuple `items`; 2020-12 spells it `prefixItems`. Only `items` had a tuple
    // form: an array under any other single-schema keyword is not a schema and is left alone.
    result.prefixItems = result.items.map(normalizeSchema);
    delete result.items;
  }
  for (const key of SCHEMA_SINGLES) {
    if (isObject(result[key])) result[key] = normalizeSchema(result[key]);
  }
  for (const key of SCHEMA_LISTS) {
    if (Array.isArray(result[key])) result[key] = (result[key] as unknown[]).map(normalizeSchema);
  }

  result = convertExclusiveBound(result, 'exclusiveMinimum', 'minimum');
  result = convertExclusiveBound(result, 'exclusiveMaximum', 'maximum');

  if ('example' in result) {
    // 3.1 deprecates `example` in schemas in favour of JSON Schema's `examples` list.
    if (!Array.isArray(result.examples)) result.examples = [result.example];
    delete result.example;
  }

  if ('nullable' in result) {
    const nullable = result.nullable === true;
    delete result.nullable;
    if (nullable) result = allowNull(result);
  }
  return result;
}

function convertExclusiveBound(schema: Json, exclusive: string, inclusive: string): Json {
  const flag = schema[exclusive];
  if (typeof flag !== 'boolean') return schema;
  const result = { ...schema };
  if (flag && typeof result[inclusive] === 'number') {
    result[exclusive] = result[inclusive];
    delete result[inclusive];
  } else {
    delete result[exclusive];
  }
  return result;
}

function allowNull(schema: Json): Json {
  const result = { ...schema };
  // With a `$ref` or an `allOf` (which @nestjs/swagger writes beside `type: 'object'` for a
  // nullable DTO), a null type alone still fails the referenced schema: wrap instead, below.
  if (!('$ref' in result) && !('allOf' in result)) {
    if (Array.isArray(result.enum) && !result.enum.includes(null)) {
      result.enum = [...result.enum, null];
    }
    if (typeof result.type === 'string') {
      result.type = [result.type, 'null'];
      return result;
    }
    if (Array.isArray(result.type)) {
      if (!result.type.includes('null')) result.type = [...result.type, 'null'];
      return result;
    }
    if (Array.isArray(result.enum)) return result;
    for (const key of ['anyOf', 'oneOf'] as const) {
      if (Array.isArray(result[key])) {
        result[key] = [...(result[key] as unknown[]), { type: 'null' }];
        return result;
      }
    }
  }
  // A `$ref` or an `allOf` cannot take a null type: offer null beside it instead.
  const annotations: Json = {};
  const rest: Json = {};
  for (const [key, value] of Object.entries(result)) {
    (ANNOTATIONS.has(key) ? annotations : rest)[key] = value;
  }
  // `allOf: [{ $ref }]` is how 3.0 put annotations beside a reference; 3.1 needs no wrapper.
  const onlyAllOf = Object.keys(rest).length === 1 && Array.isArray(rest.allOf);
  const inner =
    onlyAllOf && (rest.allOf as unknown[]).length === 1 ? (rest.allOf as unknown[])[0] : rest;
  return { ...annotations, anyOf: [inner, { type: 'null' }] };
}

function normalizeMediaMap(content: unknown): unknown {
  return isObject(content) ? mapValues(content, normalizeMediaType) : content;
}

function normalizeMediaType(media: unknown): unknown {
  if (!isObject(media)) return media;
  const result: Json = { ...media };
  if ('schema' in result) result.schema = normalizeSchema(result.schema);
  // A multipart part's headers are header objects, with schemas of their own.
  if (isObject(result.encoding)) result.encoding = mapValues(result.encoding, normalizeEncoding);
  return result;
}

function normalizeEncoding(encoding: unknown): unknown {
  if (!isObject(encoding) || !isObject(encoding.headers)) return encoding;
  return { ...encoding, headers: mapValues(encoding.headers, normalizeParameterLike) };
}

function normalizeParameterLike(parameter: unknown): unknown {
  if (!isObject(parameter) || '$ref' in parameter) return parameter;
  const result: Json = { ...parameter };
  if ('schema' in result) result.schema = normalizeSchema(result.schema);
  if ('content' in result) result.content = normalizeMediaMap(result.content);
  return result;
}

function normalizeResponse(response: unknown): unknown {
  if (!isObject(response) || '$ref' in response) return response;
  const result: Json = { ...response };
  if ('content' in result) result.content = normalizeMediaMap(result.content);
  if (isObject(result.headers)) result.headers = mapValues(result.headers, normalizeParameterLike);
  return result;
}

function normalizeRequestBody(body: unknown): unknown {
  if (!isObject(body) || '$ref' in body) return body;
  return 'content' in body ? { ...body, content: normalizeMediaMap(body.content) } : body;
}

function normalizeOperation(operation: unknown): unknown {
  if (!isObject(operation)) return operation;
  const result: Json = { ...operation };
  if (Array.isArray(result.parameters)) {
    result.parameters = result.parameters.map(normalizeParameterLike);
  }
  if ('requestBody' in result) result.requestBody = normalizeRequestBody(result.requestBody);
  if (isObject(result.responses)) result.responses = mapValues(result.responses, normalizeResponse);
  if (isObject(result.callbacks)) result.callbacks = mapValues(result.callbacks, normalizeCallback);
  return result;
}

function normalizeCallback(callback: unknown): unknown {
  return isObject(callback) && !('$ref' in callback)
    ? mapValues(callback, normalizePathItem)
    : callback;
}

function normalizePathItem(item: unknown): unknown {
  if (!isObject(item)) return item;
  const result: Json = { ...item };
  if (Array.isArray(result.parameters)) {
    result.parameters = result.parameters.map(normalizeParameterLike);
  }
  for (const method of OPERATION_METHODS) {
    if (method in result) result[method] = normalizeOperation(result[method]);
  }
  return result;
}

const mapValues = (map: Json, fn: (value: unknown) => unknown): Json =>
  Object.fromEntries(Object.entries(map).map(([key, value]) => [key, fn(value)]));

/**
 * Returns the document as valid OpenAPI 3.1: `openapi: '3.1.0'` and every schema, wherever it
 * sits (components, paths, webhooks, callbacks), converted from 3.0 idioms.
 */
export function normalizeDocument(document: OpenAPIObject): OpenAPIObject {
  const result: Json = { ...(document as unknown as Json), openapi: '3.1.0' };
  if (isObject(result.paths)) result.paths = mapValues(result.paths, normalizePathItem);
  if (isObject(result.webhooks)) result.webhooks = mapValues(result.webhooks, normalizePathItem);
  if (isObject(result.components)) {
    const components: Json = { ...result.components };
    const convert: Record<string, (value: unknown) => unknown> = {
      schemas: normalizeSchema,
      parameters: normalizeParameterLike,
      headers: normalizeParameterLike,
      responses: normalizeResponse,
      requestBodies: normalizeRequestBody,
      pathItems: normalizePathItem,
      callbacks: normalizeCallback,
    };
    for (const [key, fn] of Object.entries(convert)) {
      if (isObject(components[key])) components[key] = mapValues(components[key], fn);
    }
    result.components = components;
  }
  return result as unknown as OpenAPIObject;
}
