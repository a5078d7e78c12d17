import 'reflect-metadata';
import type { Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiProperty } from '@nestjs/swagger';
import { Exclude, Expose, Transform, Type as TransformTo } from 'class-transformer';
import { IsOptional, IsString } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { WebhooksMetadataAccessor } from '../../lib/catalog/webhooks-metadata.accessor.js';
import { WebhookPayloadSerializer } from '../../lib/delivery/webhook-payload.js';
import type { WebhookOperation } from '../../lib/interfaces/webhook-definition.interface.js';

// The serializer sends a DTO without class-transformer where instanceToPlain would change
// nothing (no class-transformer metadata on what it declares, primitives only). These cases
// hold it to that: each body must be exactly what the full transformation makes.

class Plain {
  @ApiProperty() @IsString() name: string;
  @ApiProperty({ required: false }) @IsOptional() count?: number;
  @ApiProperty({ nullable: true }) @IsOptional() note: string | null;
  @ApiProperty() @IsOptional() active: boolean;
}

class PlainChild extends Plain {
  @ApiProperty() @IsOptional() extra: string;
}

class WithExclude {
  @ApiProperty() @IsOptional() name: string;
  @ApiProperty() @IsOptional() @Exclude({ toPlainOnly: true }) secret: string;
}

class WithExpose {
  @ApiProperty() @IsOptional() @Expose({ name: 'display' }) name: string;
  @ApiProperty() @IsOptional() display: string;
}

class WithTransform {
  @ApiProperty() @IsOptional() @Transform(({ value }) => String(value).toUpperCase()) code: string;
}

class WithType {
  @ApiProperty() @IsOptional() @TransformTo(() => String) amount: number;
}

class ExcludedParent {
  @ApiProperty() @IsOptional() @Exclude() hidden: string;
}

class InheritsExclude extends ExcludedParent {
  @ApiProperty() @IsOptional() name: string;
}

@Exclude()
class ExcludeAll {
  @ApiProperty() @IsOptional() @Expose() shown: string;
  @ApiProperty() @IsOptional() hiddenByDefault: string;
}

class Nested {
  @ApiProperty() @IsOptional() label: string;
}

class WithNested {
  @ApiProperty() @IsOptional() name: string;
  @ApiProperty({ type: () => Nested }) @IsOptional() nested: Nested | null;
  @ApiProperty() @IsOptional() at: Date;
}

class WithGetter {
  @ApiProperty() @IsOptional() name: string;
  @ApiProperty() get greeting() {
    return `hello ${this.name}`;
  }
}

const operation = (body: Type<unknown>): WebhookOperation => ({
  webhook: 'case',
  method: 'post',
  body,
  isArray: false,
  options: {},
  target: class Declaring {},
  methodName: 'case',
});

/** Runs instanceToPlain on every payload: the reference the other must match. */
class AlwaysTransforming extends WebhookPayloadSerializer {
  protected override primitivesAsIs() {
    return undefined;
  }
}

/** Tells whether a payload's body was made without class-transformer. */
class Watched extends WebhookPayloadSerializer {
  copied = 0;
  protected override primitivesAsIs(instance: object, type: Type<unknown>) {
    const body = super.primitivesAsIs(instance, type);
    if (body) this.copied++;
    return body;
  }
}

class ExcludingSubclass extends Plain {
  @Exclude() declare name: string;
}

const accessor = new WebhooksMetadataAccessor(new Reflector());
const asIs = new Watched(accessor);
const transformed = new AlwaysTransforming(accessor);

/** Both ways, and each class's verdict. */
async function both(body: Type<unknown>, payload: unknown) {
  const [fast, full] = await Promise.all([
    asIs.serialize(operation(body), payload),
    transformed.serialize(operation(body), payload),
  ]);
  return { fast, full };
}

const instance = <T extends object>(type: Type<T>, values: Partial<T>) =>
  Object.assign(new type(), values);

describe('WebhookPayloadSerializer without instanceToPlain', () => {
  it('is taken for DTOs without class-transformer metadata, and only for them', () => {
    const verdict = (type: Type<unknown>) =>
      accessor.passesPrimitivesThrough(type, accessor.getDeclaredProperties(type).keys());
    expect(verdict(Plain)).toBe(true);
    expect(verdict(PlainChild)).toBe(true);
    expect(verdict(WithNested)).toBe(true);
    expect(verdict(WithExclude)).toBe(false);
    expect(verdict(WithExpose)).toBe(false);
    expect(verdict(WithTransform)).toBe(false);
    expect(verdict(WithType)).toBe(false);
    expect(verdict(InheritsExclude)).toBe(false);
    expect(verdict(ExcludeAll)).toBe(false);
  });

  const cases: [string, Type<unknown>, unknown, string][] = [
    [
      'plain object, undeclared field dropped',
      Plain,
      { name: 'a', count: 2, note: null, active: false, passwordHash: 'x' },
      '{"name":"a","count":2,"note":null,"active":false}',
    ],
    [
      'undefined and missing values left out',
      Plain,
      { name: 'a', count: undefined },
      '{"name":"a"}',
    ],
    ['instance', Plain, instance(Plain, { name: 'b', active: true }), '{"name":"b","active":true}'],
    ['inherited declarations', PlainChild, { name: 'c', extra: 'e' }, '{"name":"c","extra":"e"}'],
    ['@Exclude', WithExclude, { name: 'd', secret: 's' }, '{"name":"d"}'],
    ['@Expose with a name', WithExpose, instance(WithExpose, { name: 'e' }), '{"display":"e"}'],
    ['@Transform', WithTransform, { code: 'abc' }, '{"code":"ABC"}'],
    ['@Type', WithType, { amount: 42 }, '{"amount":"42"}'],
    ['@Exclude on a parent', InheritsExclude, { name: 'f', hidden: 'h' }, '{"name":"f"}'],
    ['@Exclude on the class', ExcludeAll, { shown: 'g', hiddenByDefault: 'h' }, '{"shown":"g"}'],
    [
      'nested object and a Date (transformed)',
      WithNested,
      { name: 'h', nested: { label: 'l', other: 1 }, at: new Date(0) },
      '{"name":"h","nested":{"label":"l"},"at":"1970-01-01T00:00:00.000Z"}',
    ],
    ['nested null (as is)', WithNested, { name: 'i', nested: null }, '{"name":"i","nested":null}'],
    [
      'a getter on the prototype, not an own property',
      WithGetter,
      instance(WithGetter, { name: 'j' }),
      '{"name":"j"}',
    ],
    [
      'an instance of a subclass that excludes a declared property',
      Plain,
      instance(ExcludingSubclass, { name: 'l', count: 1 }),
      '{"count":1}',
    ],
    [
      'a non-enumerable own property',
      Plain,
      Object.defineProperty(instance(Plain, { name: 'k' }), 'note', { value: 'n' }),
      '{"name":"k"}',
    ],
  ];

  it.each(cases)('sends what instanceToPlain makes: %s', async (_, body, payload, expected) => {
    const { fast, full } = await both(body, payload);
    expect(full).toBe(expected);
    expect(fast).toBe(full);
  });

  it('copies a plain DTO without class-transformer, and falls back where it must', async () => {
    const copied = async (body: Type<unknown>, payload: unknown) => {
      const before = asIs.copied;
      await asIs.serialize(operation(body), payload);
      return asIs.copied - before;
    };
    expect(await copied(Plain, { name: 'a', count: 1 })).toBe(1);
    expect(await copied(Plain, instance(Plain, { name: 'a' }))).toBe(1);
    expect(await copied(WithNested, { name: 'a', nested: null })).toBe(1);
    expect(await copied(WithNested, { name: 'a', nested: { label: 'l' } })).toBe(0);
    expect(await copied(WithExclude, { name: 'a' })).toBe(0);
    expect(await copied(Plain, instance(ExcludingSubclass, { name: 'a' }))).toBe(0);
  });
});
