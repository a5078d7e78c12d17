import type { Type } from '@nestjs/common';
import { instanceToPlain, plainToInstance } from 'class-transformer';
import { validate, ValidationError, type ValidatorOptions } from 'class-validator';
import {
  WebhooksMetadataAccessor,
  type DeclaredProperties,
} from '../catalog/webhooks-metadata.accessor.js';
import { WebhookPayloadValidationError } from '../webhooks.errors.js';
import { payloadNotAnArray, payloadNotAnObject } from '../webhooks.messages.js';
import type { WebhookOperation } from '../interfaces/webhook-definition.interface.js';

const VALIDATION_OPTIONS: ValidatorOptions = {
  // DTOs documented with @ApiProperty alone have no validation metadata: not an error.
  forbidUnknownValues: false,
  // Each error would otherwise hold the whole payload, undeclared fields (a password hash)
  // included, for anyone who logs or serializes the rejection.
  validationError: { target: false },
};

/**
 * Turns what `emit` was given into the JSON body of the webhook: validated with class-validator
 * against the operation's DTO, serialized with class-transformer, and cut down to the properties
 * the DTO declares, so the body matches the published schema and nothing else leaks.
 */
export class WebhookPayloadSerializer {
  private readonly shapes = new Map<Type<unknown>, Shape>();

  constructor(private readonly accessor: WebhooksMetadataAccessor) {}

  async serialize(operation: WebhookOperation, payload: unknown): Promise<string> {
    if (!operation.isArray) {
      // The common case, without the arrays and the Promise.all of a batch.
      const instance = this.toInstance(operation, payload);
      const errors = await validate(instance, VALIDATION_OPTIONS);
      if (errors.length > 0) throw new WebhookPayloadValidationError(operation.webhook, errors);
      return JSON.stringify(
        this.primitivesAsIs(instance, operation.body) ??
          this.pick(instanceToPlain(instance), operation.body),
      );
    }
    const items = operation.isArray ? this.asArray(operation, payload) : [payload];
    const instances = items.map((item, index) =>
      this.toInstance(operation, item, operation.isArray ? index : undefined),
    );
    const errors = await this.validateAll(instances, operation.isArray);
    if (errors.length > 0) throw new WebhookPayloadValidationError(operation.webhook, errors);
    const plain = instances.map((instance) => this.pick(instanceToPlain(instance), operation.body));
    return JSON.stringify(operation.isArray ? plain : plain[0]);
  }

  private asArray(operation: WebhookOperation, payload: unknown): unknown[] {
    if (Array.isArray(payload)) return payload;
    throw new WebhookPayloadValidationError(operation.webhook, [
      rootError({ isArray: payloadNotAnArray(operation.body.name) }),
    ]);
  }

  private toInstance(operation: WebhookOperation, item: unknown, index?: number): object {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      const error = rootError({ isObject: payloadNotAnObject(operation.body.name, item) });
      if (index !== undefined) error.property = String(index);
      throw new WebhookPayloadValidationError(operation.webhook, [error]);
    }
    return item instanceof operation.body
      ? item
      : (plainToInstance(operation.body, item) as object);
  }

  private async validateAll(instances: object[], isArray: boolean): Promise<ValidationError[]> {
    const results = await Promise.all(
      instances.map((instance) => validate(instance, VALIDATION_OPTIONS)),
    );
    if (!isArray) return results[0];
    return results.flatMap((children, index) => {
      if (children.length === 0) return [];
      const parent = new ValidationError();
      parent.property = String(index);
      parent.children = children;
      return [parent];
    });
  }

  private pick(value: unknown, type: Type<unknown>): unknown {
    if (Array.isArray(value)) return value.map((item) => this.pick(item, type));
    if (!isPlainObject(value)) return value;
    const result: Record<string, unknown> = {};
    for (const [name, nested] of this.shapeOf(type).properties) {
      if (!(name in value) || value[name] === undefined) continue;
      result[name] = nested ? this.pick(value[name], nested) : value[name];
    }
    return result;
  }

  /**
   * What `pick(instanceToPlain(instance))` makes, made without class-transformer, where that is
   * known to be the same: the DTO has no class-transformer metadata for what it declares (see
   * `WebhooksMetadataAccessor.passesPrimitivesThrough`), and the instance holds only primitives
   * there. `undefined` otherwise, for the full transformation to run.
   */
  protected primitivesAsIs(instance: object, type: Type<unknown>): object | undefined {
    // instanceToPlain reads the metadata of the instance's own class: a subclass may exclude
    // or transform what the DTO declares.
    if (Object.getPrototypeOf(instance) !== type.prototype) return undefined;
    const shape = this.shapeOf(type);
    shape.primitivesAsIs ??= this.accessor.passesPrimitivesThrough(type, shape.properties.keys());
    if (!shape.primitivesAsIs) return undefined;
    const result: Record<string, unknown> = {};
    for (const name of shape.properties.keys()) {
      // What instanceToPlain reads: own enumerable properties.
      if (!propertyIsEnumerable.call(instance, name)) continue;
      const value = (instance as Record<string, unknown>)[name];
      if (value === undefined) continue;
      if (value !== null && !JSON_PRIMITIVES.has(typeof value)) return undefined;
      result[name] = value;
    }
    return result;
  }

  private shapeOf(type: Type<unknown>): Shape {
    let shape = this.shapes.get(type);
    if (!shape) {
      shape = { properties: this.accessor.getDeclaredProperties(type), primitivesAsIs: undefined };
      this.shapes.set(type, shape);
    }
    return shape;
  }
}

/** What the serializer knows of a DTO, read once. */
interface Shape {
  properties: DeclaredProperties;
  /** Whether `instanceToPlain` leaves its primitive values as they are; read on first need. */
  primitivesAsIs: boolean | undefined;
}

/** What `typeof` says of the values JSON writes as they are (and `null`). */
const JSON_PRIMITIVES = new Set(['string', 'number', 'boolean']);

const { propertyIsEnumerable } = Object.prototype;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

// No `value`: for the payload as a whole that would be everything it carries, secrets included;
// the constraint text already says what was wrong with it.
function rootError(constraints: Record<string, string>): ValidationError {
  const error = new ValidationError();
  error.property = 'payload';
  error.constraints = constraints;
  error.children = [];
  return error;
}
