import { Injectable, type Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DECORATORS } from '@nestjs/swagger';
import { getMetadataStorage } from 'class-validator';
import {
  WEBHOOK_METADATA,
  WEBHOOK_OPERATION_METADATA,
  WEBHOOK_OPERATIONS_METADATA,
} from '../webhooks.constants.js';
import type {
  WebhookOperationMetadata,
  WebhookOptions,
} from '../interfaces/webhook-options.interface.js';

// The swagger CLI plugin declares properties through this static method instead of decorators.
const PLUGIN_METADATA_FACTORY = '_OPENAPI_METADATA_FACTORY';
const PRIMITIVES = new Set<unknown>([String, Number, Boolean, Object, Array, Date, Symbol, BigInt]);

/** The properties a DTO declares, each with its nested DTO class when it has one. */
export type DeclaredProperties = ReadonlyMap<string, Type<unknown> | undefined>;

/** Owns every metadata read of the library, so the explorer never touches `Reflect` itself. */
@Injectable()
export class WebhooksMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  getWebhook(target: Type<unknown>): WebhookOptions | undefined {
    return this.reflector.get<WebhookOptions | undefined>(WEBHOOK_METADATA, target);
  }

  /** Names of the methods decorated as webhook operations, own and inherited. */
  getOperationMethodNames(target: Type<unknown>): string[] {
    const names = new Set<string>();
    for (let type: unknown = target; typeof type === 'function' && type !== Function.prototype;) {
      const listed: unknown[] | undefined = Reflect.getOwnMetadata(
        WEBHOOK_OPERATIONS_METADATA,
        type,
      );
      listed?.forEach((name) => typeof name === 'string' && names.add(name));
      type = Object.getPrototypeOf(type);
    }
    return [...names];
  }

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

  /**
   * The properties a body DTO declares: those documented (`@ApiProperty`, the swagger CLI
   * plugin) or validated (class-validator), with the nested DTO class of each when known.
   */
  getDeclaredProperties(type: Type<unknown>): DeclaredProperties {
    const prototype = type.prototype as object;
    const documented: string[] = (
      Reflect.getMetadata(DECORATORS.API_MODEL_PROPERTIES_ARRAY, prototype) ?? []
    ).map((key: string) => key.replace(/^:/, ''));
    const plugin: Record<string, { type?: unknown }> =
      (type as unknown as Record<string, () => Record<string, { type?: unknown }>>)[
        PLUGIN_METADATA_FACTORY
      ]?.() ?? {};
    const validated = getMetadataStorage()
      .getTargetValidationMetadatas(type, '', true, false)
      .map((metadata) => metadata.propertyName);

    const properties = new Map<string, Type<unknown> | undefined>();
    for (const name of new Set([...documented, ...Object.keys(plugin), ...validated])) {
      const swaggerType: unknown = Reflect.getMetadata(
        DECORATORS.API_MODEL_PROPERTIES,
        prototype,
        name,
      )?.type;
      properties.set(
        name,
        dtoClass(swaggerType) ??
          dtoClass(plugin[name]?.type) ??
          dtoClass(Reflect.getMetadata('design:type', prototype, name)),
      );
    }
    return properties;
  }
}

/** The DTO class behind a property type: `Dto`, `[Dto]`, `() => Dto` or `() => [Dto]`. */
function dtoClass(type: unknown): Type<unknown> | undefined {
  if (Array.isArray(type)) return dtoClass(type[0]);
  if (typeof type !== 'function' || PRIMITIVES.has(type)) return undefined;
  // Arrow functions (lazy types) have no prototype; classes do.
  if (!type.prototype) return dtoClass((type as () => unknown)());
  return type as Type<unknown>;
}
