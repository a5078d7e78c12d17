import type { Type } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import { DECORATORS } from '@nestjs/swagger';
import { TransformationType } from 'class-transformer';
import { getMetadataStorage, ValidationTypes } from 'class-validator';
import {
  WEBHOOK_METADATA,
  WEBHOOK_OPERATION_METADATA,
  WEBHOOK_OPERATIONS_METADATA,
} from '../webhooks.constants.js';
import { classTransformerStorage } from './class-transformer-storage.js';
import { declaresWebhooks } from './decorators/declaring-classes.js';
import type {
  WebhookOperationDeclaration,
  WebhookOperationMetadata,
  WebhookOptions,
} from '../interfaces/webhook-options.interface.js';

// The swagger CLI plugin declares properties through this static method instead of decorators.
const PLUGIN_METADATA_FACTORY = '_OPENAPI_METADATA_FACTORY';
const PRIMITIVES = new Set<unknown>([String, Number, Boolean, Object, Array, Date, Symbol, BigInt]);

/** What `@ApiProperty()` or the swagger CLI plugin records about one property. */
interface PropertyMetadata {
  name?: string;
  type?: unknown;
}

/**
 * The properties a DTO documents, by the name the schema (and so the wire) uses, each with its
 * nested DTO class when it has one.
 */
export type DeclaredProperties = ReadonlyMap<string, Type<unknown> | undefined>;

/** How a payload is read at one property: see `getPayloadProperties`. */
export interface PayloadProperty {
  /** The DTO class the value (each item, for an array) is read as, when it documents one. */
  readonly nested: Type<unknown> | undefined;
  /** class-transformer reads it even where it is inherited or not enumerable: `@Expose`. */
  readonly exposed: boolean;
  /** class-validator reads it, however it is defined, though it may never be sent. */
  readonly validated: boolean;
}

/** What class-transformer records for `@Expose()` on a property (its own field names). */
interface ExposeMetadata {
  propertyName: string;
  options?: { name?: string };
}

/** Owns every metadata read of the library, so the explorer never touches `Reflect` itself. */
export class WebhooksMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  getWebhook(target: Type<unknown>): WebhookOptions | undefined {
    return this.reflector.get<WebhookOptions | undefined>(WEBHOOK_METADATA, target);
  }

  /** Whether the class or a parent class carries a webhook decorator: no metadata read. */
  declaresWebhooks(target: Type<unknown>): boolean {
    return declaresWebhooks(target);
  }

  /**
   * The operations the class declares, own and inherited (a subclass's declaration of a method
   * wins over its parent's), static ones included, in declaration order: one read per class.
   */
  getOperations(target: Type<unknown>): (WebhookOperationDeclaration & { methodName: string })[] {
    const found: (WebhookOperationDeclaration & { methodName: string })[] = [];
    // Instance and static members live apart: `send` may be both. A name declared by a class
    // hides its parents' declarations of it; twice in one class, both are kept for the explorer
    // to refuse.
    const seen = { instance: new Set<string>(), static: new Set<string>() };
    for (
      let type: unknown = target;
      typeof type === 'function' && type !== Function.prototype;
      type = Object.getPrototypeOf(type)
    ) {
      const listed: WebhookOperationDeclaration[] | undefined = Reflect.getOwnMetadata(
        WEBHOOK_OPERATIONS_METADATA,
        type,
      );
      const own = listed?.filter(
        (declaration): declaration is WebhookOperationDeclaration & { methodName: string } =>
          // A symbol-keyed method has no name to document or to report.
          typeof declaration.methodName === 'string' &&
          !(declaration.isStatic ? seen.static : seen.instance).has(declaration.methodName),
      );
      for (const declaration of own ?? []) {
        found.push(declaration);
        (declaration.isStatic ? seen.static : seen.instance).add(declaration.methodName);
      }
    }
    return found;
  }

  /** The operation metadata `@WebhookPost()` and its siblings record on the method itself. */
  getOperation(target: Type<unknown>, methodName: string): WebhookOperationMetadata | undefined {
    const method: unknown = target.prototype[methodName];
    if (typeof method !== 'function') return undefined;
    return this.reflector.get<WebhookOperationMetadata | undefined>(
      WEBHOOK_OPERATION_METADATA,
      method,
    );
  }

  /** The parameter types TypeScript emitted for the method (`emitDecoratorMetadata`). */
  getParameterTypes(target: Type<unknown>, methodName: string): unknown[] {
    const types: unknown = Reflect.getMetadata('design:paramtypes', target.prototype, methodName);
    return Array.isArray(types) ? types : [];
  }

  /** Whether the DTO documents at least one property; cheap enough for every bootstrap. */
  documentsAnyProperty(type: Type<unknown>): boolean {
    const decorated: unknown[] | undefined = Reflect.getMetadata(
      DECORATORS.API_MODEL_PROPERTIES_ARRAY,
      type.prototype as object,
    );
    return (decorated?.length ?? 0) > 0 || Object.keys(pluginMetadata(type.prototype)).length > 0;
  }

  /**
   * The properties a body DTO documents, exactly those that `generateSchema(type)` lists under
   * `properties`: `@ApiProperty()` and its siblings, own and inherited (mapped types included),
   * and the swagger CLI plugin's `_OPENAPI_METADATA_FACTORY`. Validation decorators alone do not
   * count: a property the document leaves out must never reach a receiver. `@ApiHideProperty()`
   * needs no handling of its own: in @nestjs/swagger 12 it records nothing at runtime and only
   * keeps the CLI plugin from generating metadata, so what it hides is absent here as in the
   * schema.
   */
  getDeclaredProperties(type: Type<unknown>): DeclaredProperties {
    return new Map(documented(type).map(({ name, nested }) => [name, nested]));
  }

  /**
   * Every property that validating a payload against `type` and serializing it reads, by the
   * name the payload carries it under, so that nothing else of the payload is ever read: what
   * `type` documents (under its class name and its schema name), what class-validator validates
   * (undocumented rules still apply), and the names `@Expose` maps either of them from or to.
   * `rulesOf` is the class whose validation and class-transformer metadata apply: `type`, or the
   * class of a DTO instance (a subclass may validate or expose more).
   */
  getPayloadProperties(
    type: Type<unknown>,
    rulesOf: Type<unknown> = type,
  ): ReadonlyMap<string, PayloadProperty> {
    const declared = documented(type);
    const wireNames = new Map(declared.map(({ name, nested }) => [name, nested]));
    const properties = new Map<string, PayloadProperty>();
    const add = (key: string, change: Partial<PayloadProperty>) => {
      // class-transformer never reads these two, and `__proto__` would replace a copy's prototype.
      if (key === '__proto__' || key === 'constructor') return;
      const known = properties.get(key) ?? { nested: undefined, exposed: false, validated: false };
      properties.set(key, { ...known, ...change });
    };
    for (const { key, name, nested } of declared) {
      add(key, { nested });
      add(name, { nested });
    }
    for (const key of validatedProperties(rulesOf)) add(key, { validated: true });
    for (const { propertyName, options } of exposedProperties(rulesOf)) {
      // Sent under its exposed name, or received under it: read under both.
      const name = options?.name;
      if (properties.has(propertyName) || (name !== undefined && wireNames.has(name))) {
        const nested = properties.get(propertyName)?.nested ?? wireNames.get(name ?? propertyName);
        add(propertyName, { nested, exposed: true });
        if (name !== undefined) add(name, { nested, exposed: true });
      }
    }
    return properties;
  }

  /** The properties class-transformer exposes on instances of `type` (`@Expose()`), parents' too. */
  getExposedNames(type: unknown): string[] {
    if (typeof type !== 'function') return [];
    return exposedProperties(type as Type<unknown>).map(({ propertyName }) => propertyName);
  }

  /**
   * Whether class-validator, validating an instance of `type`, walks into the values of its
   * properties (`@ValidateNested()`, `@ValidatePromise()`) rather than only looking at them.
   */
  validatesNested(type: Type<unknown>): boolean {
    const walking = [ValidationTypes.NESTED_VALIDATION, ValidationTypes.PROMISE_VALIDATION];
    return validationRules(type).some((rule) => walking.includes(rule.type));
  }

  /**
   * Whether class-transformer passes the primitive values of `type`'s `properties` through as
   * they are, in `direction` (`instanceToPlain` by default; `PLAIN_TO_CLASS` for
   * `plainToInstance`): nothing on the class or its parents exposes, excludes, types or
   * transforms them (`@Expose`, `@Exclude`, `@Type`, `@Transform`), which holds for most webhook
   * DTOs. `false` whenever class-transformer's storage cannot be read.
   */
  passesPrimitivesThrough(
    type: Type<unknown>,
    properties: Iterable<string>,
    direction = TransformationType.CLASS_TO_PLAIN,
  ): boolean {
    const storage = classTransformerStorage();
    if (!storage) return false;
    if (storage.getStrategy(type) !== 'none') return false;
    if (storage.getExposedMetadatas(type).length > 0) return false;
    if (storage.getExcludedMetadatas(type).length > 0) return false;
    for (const property of properties) {
      if (storage.findTypeMetadata(type, property)) return false;
      if (storage.findTransformMetadatas(type, property, direction).length > 0) return false;
    }
    return true;
  }
}

/** One property of `type` as its declaration names it: class key, schema name, nested DTO. */
function documented(
  type: Type<unknown>,
): { key: string; name: string; nested: Type<unknown> | undefined }[] {
  const prototype = type.prototype as object;
  const plugin = pluginMetadata(prototype);
  // The order swagger lists them in: decorated first, then what only the plugin declares.
  const keys = new Set<string>();
  const decorated: unknown[] =
    Reflect.getMetadata(DECORATORS.API_MODEL_PROPERTIES_ARRAY, prototype) ?? [];
  for (const key of decorated) {
    if (typeof key === 'string' && key.startsWith(':')) keys.add(key.slice(1));
  }
  Object.keys(plugin).forEach((key) => keys.add(key));

  return [...keys].map((key) => {
    const stored: PropertyMetadata | undefined = Reflect.getMetadata(
      DECORATORS.API_MODEL_PROPERTIES,
      prototype,
      key,
    );
    // Decorator metadata wins over the plugin's, as when swagger merges them.
    const metadata: PropertyMetadata = { ...plugin[key], ...stored };
    const declaredType =
      metadata.type !== undefined
        ? metadata.type
        : Reflect.getMetadata('design:type', prototype, key);
    return { key, name: metadata.name || key, nested: dtoClass(declaredType) };
  });
}

/** The properties class-validator checks on an instance of `type`, own and inherited. */
function validatedProperties(type: Type<unknown>): Set<string> {
  return new Set(validationRules(type).map((rule) => rule.propertyName));
}

/** class-validator's rules for an instance of `type`, own and inherited. */
function validationRules(type: Type<unknown>) {
  // What `validate()` applies without groups: every rule, whatever its groups.
  return getMetadataStorage().getTargetValidationMetadatas(type, '', false, false);
}

/** `@Expose` metadata of `type` and its parents, as class-transformer records it. */
function exposedProperties(type: Type<unknown>): ExposeMetadata[] {
  const exposed = classTransformerStorage()?.getExposedMetadatas(type) ?? [];
  return exposed.filter(
    (metadata): metadata is ExposeMetadata =>
      typeof (metadata as Partial<ExposeMetadata>).propertyName === 'string',
  );
}

/** The plugin metadata of the class and its ancestors; the nearest class wins, as in swagger. */
function pluginMetadata(prototype: object): Record<string, PropertyMetadata> {
  let metadata: Record<string, PropertyMetadata> = {};
  for (
    let current: object | null = prototype;
    current && current !== Object.prototype;
    current = Reflect.getPrototypeOf(current)
  ) {
    const factory: unknown = (current.constructor as unknown as Record<string, unknown>)?.[
      PLUGIN_METADATA_FACTORY
    ];
    if (typeof factory === 'function') {
      metadata = { ...(factory() as Record<string, PropertyMetadata>), ...metadata };
    }
  }
  return metadata;
}

/** The DTO class behind a property type: `Dto`, `[Dto]`, `() => Dto` or `() => [Dto]`. */
function dtoClass(type: unknown): Type<unknown> | undefined {
  if (Array.isArray(type)) return dtoClass(type[0]);
  if (typeof type !== 'function' || PRIMITIVES.has(type)) return undefined;
  // Arrow functions (lazy types) have no prototype; classes do.
  if (!type.prototype) return dtoClass((type as () => unknown)());
  return type as Type<unknown>;
}
