import type { Type } from '@nestjs/common';
import { instanceToPlain, plainToInstance, TransformationType } from 'class-transformer';
import { validate, ValidationError, type ValidatorOptions } from 'class-validator';
import {
  WebhooksMetadataAccessor,
  type DeclaredProperties,
  type PayloadProperty,
} from '../catalog/webhooks-metadata.accessor.js';
import { WebhookPayloadValidationError } from '../webhooks.errors.js';
import { payloadNotAnArray, payloadNotAnObject, payloadRefersBack } from '../webhooks.messages.js';
import type { WebhookOperation } from '../interfaces/webhook-definition.interface.js';

const VALIDATION_OPTIONS: ValidatorOptions = {
  // DTOs documented with @ApiProperty alone have no validation metadata: not an error.
  forbidUnknownValues: false,
  // Each error would otherwise hold the whole payload (`target`) or the whole object it is about
  // (`value`), undeclared fields (a password hash, an API key) included, for anyone who logs or
  // serializes the rejection.
  validationError: { target: false, value: false },
};

/**
 * Turns what `emit` was given into the JSON body of the webhook: validated with class-validator
 * against the operation's DTO, serialized with class-transformer, and cut down to the properties
 * the DTO declares, so the body matches the published schema and nothing else leaks.
 *
 * Neither library ever sees the payload itself, only a copy of what they read of it (see
 * `read`): undeclared data, however large or cyclic (an ORM entity's back-references), is never
 * walked, and a cycle in what is declared is refused with a message rather than a stack overflow.
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
          // Never of the payload itself, which toInstance may hand on uncut: where primitivesAsIs
          // finds an object in what is declared, the cut reads it (and refuses a cycle).
          this.pick(
            instanceToPlain(instance === payload ? this.cut(operation, instance) : instance),
            operation.body,
          ),
      );
    }
    const items = this.asArray(operation, payload);
    const instances = items.map((item, index) => this.toInstance(operation, item, index, items));
    const errors = await this.validateAll(instances);
    if (errors.length > 0) throw new WebhookPayloadValidationError(operation.webhook, errors);
    return JSON.stringify(
      instances.map((instance) => this.pick(instanceToPlain(instance), operation.body)),
    );
  }

  private asArray(operation: WebhookOperation, payload: unknown): unknown[] {
    if (Array.isArray(payload)) return payload;
    throw new WebhookPayloadValidationError(operation.webhook, [
      rootError({ isArray: payloadNotAnArray(operation.body.name) }),
    ]);
  }

  /** `index` and `batch`: the item's place in an array payload, and that payload. */
  private toInstance(
    operation: WebhookOperation,
    item: unknown,
    index?: number,
    batch?: unknown[],
  ): object {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      const error = rootError({ isObject: payloadNotAnObject(operation.body.name, item) });
      if (index !== undefined) error.property = String(index);
      throw new WebhookPayloadValidationError(operation.webhook, [error]);
    }
    const type = operation.body;
    // A DTO instance is validated and serialized as it is (its copy, that is), anything else as
    // plainToInstance makes it.
    if (item instanceof type) {
      // Nothing to cut where class-validator only looks at its properties (it walks into none)
      // and primitivesAsIs copies the body from it (see serialize for when it does not).
      if (index === undefined && this.validatesAsIs(item, type)) return item;
      return this.cut(operation, item, index, batch);
    }
    const reading = new Reading(operation.webhook, item, index, batch);
    const copy = this.read(item, type, reading, false);
    return (
      (reading.onlyPrimitives ? this.constructed(type, copy) : undefined) ??
      (plainToInstance(type, copy) as object)
    );
  }

  /** The copy of a DTO instance that is validated and serialized in its place (see `read`). */
  private cut(operation: WebhookOperation, item: object, index?: number, batch?: unknown[]) {
    return this.read(
      item,
      operation.body,
      new Reading(operation.webhook, item, index, batch),
      true,
    );
  }

  /**
   * Whether a DTO instance may be validated as it is: class-validator walks into none of its
   * properties, and class-transformer would see it only through primitivesAsIs.
   */
  private validatesAsIs(instance: object, type: Type<unknown>): boolean {
    if (Object.getPrototypeOf(instance) !== type.prototype || !this.copiesAsIs(type)) return false;
    const shape = this.shapeOf(type);
    return !(shape.validatesNested ??= this.accessor.validatesNested(type));
  }

  /**
   * A copy of `source` holding only what validating and serializing it as `type` reads (the
   * accessor's `getPayloadProperties`), defined as `source` defines it (enumerable or not), each
   * object in it read the same way as its nested DTO. Beside them, the copy keeps `source`'s
   * other own data properties whose values are primitives: they cannot lead anywhere (no cycle,
   * nothing to walk), no getter is called to read them, and what reads its object's siblings
   * (a `@ValidateIf` condition, a custom constraint's `args.object`, a `@Transform`'s `obj`, an
   * exposed getter) sees them as before; they are never sent, since the body keeps only what
   * the DTO documents. The copy keeps `source`'s prototype, so the same class-transformer and
   * class-validator metadata apply to it, and a class's getters and methods stay. `asInstance`:
   * the copy is validated itself (a DTO instance, and what it holds), rather than passed
   * through plainToInstance, so whatever class-validator reads is read too.
   */
  private read(source: object, type: Type<unknown>, reading: Reading, asInstance: boolean): object {
    const prototype = Object.getPrototypeOf(source) as object | null;
    const plain = prototype === Object.prototype;
    const copy: Record<string, unknown> = plain ? {} : Object.create(prototype);
    const rulesOf = asInstance ? (source as { constructor?: unknown }).constructor : type;
    const reads = this.propertiesOf(type, rulesOf);
    for (const { key, nested, exposed, validated } of reads.properties) {
      // class-transformer reads own enumerable properties, and exposed ones however defined;
      // class-validator reads validated ones however defined.
      const enumerable = propertyIsEnumerable.call(source, key);
      if (!enumerable && !((exposed || (asInstance && validated)) && key in source)) continue;
      let value: unknown = (source as Record<string, unknown>)[key];
      if (typeof value === 'object' && value !== null) {
        value = this.readValue(value, nested, key, reading, asInstance);
      }
      // Defined rather than assigned on a class's copy: a setter of the class must not run.
      if (plain && enumerable) copy[key] = value;
      else define(copy, key, value, enumerable);
    }
    for (const key of Object.keys(source)) {
      if (reads.keys.has(key)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(source, key);
      if (descriptor && 'value' in descriptor && isPrimitive(descriptor.value)) {
        define(copy, key, descriptor.value, true);
      }
    }
    return copy;
  }

  /** What `read` puts in a copy for the object `value` found at `key`. */
  private readValue(
    value: object,
    nested: Type<unknown> | undefined,
    key: string,
    reading: Reading,
    asInstance: boolean,
  ): unknown {
    reading.enter(value, key);
    let read: unknown = value;
    if (nested && Array.isArray(value)) {
      // `map` keeps the holes of a sparse array, which class-transformer then skips.
      read = value.map((item: unknown, index) =>
        typeof item === 'object' && item !== null
          ? this.readValue(item, nested, String(index), reading, asInstance)
          : item,
      );
    } else if (nested && !isLeaf(value) && !(value instanceof Map || value instanceof Set)) {
      read = this.read(value, nested, reading, asInstance);
    } else {
      // No DTO says what of it counts (a free-form object, an array of strings, a Date): it is
      // sent as a whole, so it is walked as class-transformer walks it, for cycles only.
      this.checkWhole(value, reading);
    }
    reading.leave(value);
    return read;
  }

  /**
   * Walks what class-transformer walks of `value` (already entered) for references back: its
   * items, or its own enumerable properties and, for an instance of a class, what the class
   * exposes (`@Expose()` getters included).
   */
  private checkWhole(value: object, reading: Reading): void {
    if (isLeaf(value)) return;
    const visit = (item: unknown, key: string) => {
      if (typeof item !== 'object' || item === null) return;
      reading.enter(item, key);
      this.checkWhole(item, reading);
      reading.leave(item);
    };
    if (Array.isArray(value)) value.forEach((item: unknown, index) => visit(item, String(index)));
    else if (value instanceof Set) [...value].forEach((item, index) => visit(item, String(index)));
    else if (value instanceof Map) value.forEach((item, key) => visit(item, String(key)));
    else {
      const keys = new Set(Object.keys(value));
      if (!isPlainObject(value)) {
        for (const name of this.accessor.getExposedNames(value.constructor)) keys.add(name);
      }
      for (const key of keys) visit((value as Record<string, unknown>)[key], key);
    }
  }

  /**
   * What `plainToInstance(type, copy)` makes, made without class-transformer where that is known
   * to be the same: `type` has no class-transformer metadata for what a payload is read at, and
   * the copy holds only primitives. `undefined` otherwise.
   */
  private constructed(type: Type<unknown>, copy: object): object | undefined {
    const shape = this.shapeOf(type);
    shape.constructsAsIs ??= this.accessor.passesPrimitivesThrough(
      type,
      shape.reads.properties.map(({ key }) => key),
      TransformationType.PLAIN_TO_CLASS,
    );
    if (!shape.constructsAsIs) return undefined;
    const instance = new type() as Record<string, unknown>;
    for (const key of Object.keys(copy)) {
      // As plainToInstance does: a getter without a setter, or a method, stays the class's own.
      if (shape.readOnly.has(key) || instance[key] instanceof Function) continue;
      instance[key] = (copy as Record<string, unknown>)[key];
    }
    return instance;
  }

  private async validateAll(instances: object[]): Promise<ValidationError[]> {
    const results = await Promise.all(
      instances.map((instance) => validate(instance, VALIDATION_OPTIONS)),
    );
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
    if (Object.getPrototypeOf(instance) !== type.prototype || !this.copiesAsIs(type)) {
      return undefined;
    }
    const result: Record<string, unknown> = {};
    for (const name of this.shapeOf(type).names) {
      // What instanceToPlain reads: own enumerable properties.
      if (!propertyIsEnumerable.call(instance, name)) continue;
      const value = (instance as Record<string, unknown>)[name];
      if (value === undefined) continue;
      if (value !== null && !isJsonPrimitive(value)) return undefined;
      result[name] = value;
    }
    return result;
  }

  /** Whether `instanceToPlain` leaves the primitives `type` declares as they are. */
  private copiesAsIs(type: Type<unknown>): boolean {
    const shape = this.shapeOf(type);
    return (shape.primitivesAsIs ??= this.accessor.passesPrimitivesThrough(type, shape.names));
  }

  /**
   * The properties a payload read as `type` is read at, under the rules of `rulesOf`: `type`'s
   * own, or those of the class of the instance being read (a subclass, or an entity inside a DTO
   * instance), which class-validator and class-transformer apply to it.
   */
  private propertiesOf(type: Type<unknown>, rulesOf: unknown): Reads {
    const shape = this.shapeOf(type);
    if (rulesOf === type || rulesOf === Object || !isClass(rulesOf)) return shape.reads;
    let reads = shape.readsUnder.get(rulesOf);
    if (!reads) {
      reads = this.readsOf(type, rulesOf);
      shape.readsUnder.set(rulesOf, reads);
    }
    return reads;
  }

  private readsOf(type: Type<unknown>, rulesOf: Type<unknown>): Reads {
    const read = this.accessor.getPayloadProperties(type, rulesOf);
    const properties = [...read].map(([key, property]) => ({ key, ...property }));
    return { keys: new Set(read.keys()), properties };
  }

  private shapeOf(type: Type<unknown>): Shape {
    let shape = this.shapes.get(type);
    if (!shape) {
      const properties = this.accessor.getDeclaredProperties(type);
      const reads = this.readsOf(type, type);
      shape = {
        properties,
        names: [...properties.keys()],
        reads,
        readsUnder: new Map(),
        readOnly: new Set(
          reads.properties.map(({ key }) => key).filter((key) => isReadOnly(type, key)),
        ),
        primitivesAsIs: undefined,
        constructsAsIs: undefined,
        validatesNested: undefined,
      };
      this.shapes.set(type, shape);
    }
    return shape;
  }
}

/** What the serializer knows of a DTO, read once. */
interface Shape {
  properties: DeclaredProperties;
  /** The keys of `properties`, to iterate without a Map iterator. */
  names: readonly string[];
  /** Where a payload is read, under the DTO's own rules. */
  reads: Reads;
  /** Where it is read under the rules of another class (see `propertiesOf`), by that class. */
  readsUnder: Map<unknown, Reads>;
  /** What plainToInstance leaves as the class defines it: getters without setters, methods. */
  readOnly: ReadonlySet<string>;
  /** Whether `instanceToPlain` leaves its primitive values as they are; read on first need. */
  primitivesAsIs: boolean | undefined;
  /** Whether `plainToInstance` leaves them as they are; read on first need. */
  constructsAsIs: boolean | undefined;
  /** Whether class-validator walks into its properties' values; read on first need. */
  validatesNested: boolean | undefined;
}

/** Where a payload is read under the rules of one class. */
interface Reads {
  keys: ReadonlySet<string>;
  properties: readonly PayloadRead[];
}

/** One property a payload is read at, with how (see `PayloadProperty`). */
interface PayloadRead extends PayloadProperty {
  readonly key: string;
}

/** Whether `value` can be the class of an object: a function with a prototype. */
function isClass(value: unknown): value is Type<unknown> {
  return typeof value === 'function' && typeof value.prototype === 'object' && !!value.prototype;
}

/** What plainToInstance skips: a property of the prototype itself without a setter. */
function isReadOnly(type: Type<unknown>, key: string): boolean {
  const descriptor = Object.getOwnPropertyDescriptor(type.prototype, key);
  return descriptor !== undefined && !descriptor.set;
}

/**
 * One payload (or one item of an array payload) being read: the path to where the reader is,
 * and the objects that enclose that place, to tell a reference back to one of them (a cycle,
 * which JSON cannot write) from an object that is merely referred to twice (written twice).
 */
class Reading {
  /** Whether every value read so far is a primitive. */
  onlyPrimitives = true;
  private readonly path: string[];
  /** Each enclosing object with the length of its path; the payload's own are kept apart. */
  private enclosing: Map<object, number> | undefined;

  constructor(
    private readonly webhook: string,
    private readonly root: object,
    index?: number,
    private readonly batch?: unknown[],
  ) {
    this.path = index === undefined ? [] : [String(index)];
  }

  /** Steps into `value`, found at `key` of where the reader is; refuses a reference back. */
  enter(value: object, key: string): void {
    this.onlyPrimitives = false;
    const depth =
      value === this.root
        ? this.batch
          ? 1
          : 0
        : value === this.batch
          ? 0
          : this.enclosing?.get(value);
    this.path.push(key);
    if (depth !== undefined) throw referenceCycle(this.webhook, this.path, depth);
    (this.enclosing ??= new Map()).set(value, this.path.length);
  }

  leave(value: object): void {
    this.enclosing?.delete(value);
    this.path.pop();
  }
}

/** What class-transformer copies without looking inside: Dates, buffers, promises. */
function isLeaf(value: object): boolean {
  return value instanceof Date || ArrayBuffer.isView(value) || value instanceof Promise;
}

/** The error for a reference back at `path` to the object at its first `depth` keys. */
function referenceCycle(webhook: string, path: readonly string[], depth: number) {
  const property = path[path.length - 1];
  let error = new ValidationError();
  error.property = property;
  error.constraints = { acyclic: payloadRefersBack(property, path.slice(0, depth).join('.')) };
  error.children = [];
  for (const key of path.slice(0, -1).reverse()) {
    const parent = new ValidationError();
    parent.property = key;
    parent.children = [error];
    error = parent;
  }
  return new WebhookPayloadValidationError(webhook, [error]);
}

/** Whether `value` is no object: nothing to walk, nothing it can refer back to. */
function isPrimitive(value: unknown): boolean {
  return value === null || (typeof value !== 'object' && typeof value !== 'function');
}

function define(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, enumerable, writable: true, configurable: true });
}

/** Whether JSON writes `value` as it is (as it does `null`). */
function isJsonPrimitive(value: unknown): boolean {
  const type = typeof value;
  return type === 'string' || type === 'number' || type === 'boolean';
}

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
