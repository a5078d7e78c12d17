import 'reflect-metadata';
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { Test } from '@nestjs/testing';

/** Compiles a testing module from `metadata` and creates (not initializes) its app. */
export async function createApp(metadata: ModuleMetadata): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  return moduleRef.createNestApplication({ logger: false });
}

/** What `@nestjs/swagger` makes of the app's controllers, as `setupDocs` builds it. */
export function swaggerDocument(app: INestApplication, openapi?: string): OpenAPIObject {
  const builder = new DocumentBuilder().setTitle('Test app').setVersion('1.0.0');
  if (openapi) builder.setOpenAPIVersion(openapi);
  return SwaggerModule.createDocument(app, builder.build());
}

/** Every `$ref` anywhere inside `value`. */
export function collectRefs(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(collectRefs);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) =>
    key === '$ref' && typeof inner === 'string' ? [inner] : collectRefs(inner),
  );
}

/** The value a local `#/...` reference points at in `document`, or undefined. */
export function resolveRef(document: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>(
      (node, part) =>
        typeof node === 'object' && node !== null && Object.hasOwn(node, part)
          ? (node as Record<string, unknown>)[part]
          : undefined,
      document,
    );
}

/** References in `document` that point at nothing. */
export function danglingRefs(document: unknown): string[] {
  return [...new Set(collectRefs(document))].filter(
    (ref) => resolveRef(document, ref) === undefined,
  );
}

/** The operationIds of every operation in `paths` and `webhooks`. */
export function operationIds(document: OpenAPIObject): string[] {
  return [...Object.values(document.paths ?? {}), ...Object.values(document.webhooks ?? {})]
    .flatMap((item) => Object.values(item ?? {}))
    .flatMap((operation: unknown) =>
      typeof operation === 'object' && operation !== null && 'operationId' in operation
        ? [String(operation.operationId)]
        : [],
    );
}
