import 'reflect-metadata';
import type { Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiProperty } from '@nestjs/swagger';
import { Expose, plainToInstance, Transform, Type as TransformTo } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  Validate,
  ValidateIf,
  ValidateNested,
  ValidatorConstraint,
  type ValidationArguments,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { WebhooksMetadataAccessor } from '../../lib/catalog/webhooks-metadata.accessor.js';
import { WebhookPayloadSerializer } from '../../lib/delivery/webhook-payload.js';
import type { WebhookOperation } from '../../lib/interfaces/webhook-definition.interface.js';
import { WebhookPayloadValidationError } from '../../lib/index.js';
import { CustomerDto, PingDto } from '../fixtures/delivery/customer.dto.js';
import { customerEntity, customerWireBody } from '../fixtures/delivery/customer.entity.js';
import {
  CustomerNodeDto,
  OrderNodeDto,
  customerNode,
  linkedCustomerEntity,
  linkedCustomerRecord,
} from '../fixtures/delivery/graph.webhook.js';

// The serializer reads a payload only where the DTO documents or validates it: what it leaves
// out (an ORM entity's back-references, a huge blob, a getter that fails) is never walked, and a
// cycle in what it documents is refused by name instead of overflowing the stack.

const operation = (body: Type<unknown>, isArray = false): WebhookOperation => ({
  webhook: 'case',
  method: 'post',
  body,
  isArray,
  options: {},
  target: class Declaring {},
  methodName: 'case',
});

const accessor = new WebhooksMetadataAccessor(new Reflector());
const serializer = new WebhookPayloadSerializer(accessor);

/** Never takes the class-transformer-free shortcut, so instanceToPlain sees every payload. */
class AlwaysTransforming extends WebhookPayloadSerializer {
  protected override primitivesAsIs() {
    return undefined;
  }
}
const transforming = new AlwaysTransforming(accessor);

const serialize = async (body: Type<unknown>, payload: unknown, isArray = false) =>
  JSON.parse(await serializer.serialize(operation(body, isArray), payload)) as unknown;

async function rejection(promise: Promise<unknown>): Promise<WebhookPayloadValidationError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookPayloadValidationError);
    return error as WebhookPayloadValidationError;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** Every error of the tree, children included. */
const everyError = (errors: WebhookPayloadValidationError['errors']): typeof errors =>
  errors.flatMap((error) => [error, ...everyError(error.children ?? [])]);

class Address {
  @ApiProperty() @IsString() city: string;
}

class Shipment {
  @ApiProperty() @IsString() id: string;
  @ApiProperty({ type: Address }) @ValidateNested() @TransformTo(() => Address) billing: Address;
  @ApiProperty({ type: Address }) @ValidateNested() @TransformTo(() => Address) shipping: Address;
  @ApiProperty({ type: [Address] })
  @ValidateNested({ each: true })
  @TransformTo(() => Address)
  stops: Address[];
}

/** Documented only: no class-transformer metadata, nothing class-validator walks into. */
class LooseNode {
  @ApiProperty() id: string;
  @ApiProperty({ type: () => LooseNode, required: false }) child?: LooseNode;
}

class TreeNode {
  @ApiProperty() @IsString() id: string;
  @ApiProperty({ type: () => TreeNode, required: false })
  @IsOptional()
  @ValidateNested()
  @TransformTo(() => TreeNode)
  child?: TreeNode;
}

describe('WebhookPayloadSerializer: what it leaves out is never read', () => {
  it('sends an entity whose undeclared properties refer back to it (customer.orders[0].customer)', async () => {
    expect(await serialize(CustomerDto, linkedCustomerEntity())).toEqual(customerWireBody());
  });

  it('sends the same graph of plain objects', async () => {
    expect(await serialize(CustomerDto, linkedCustomerRecord())).toEqual(customerWireBody());
  });

  it('sends a payload whose cycle runs only through what a nested DTO leaves out', async () => {
    const entity = customerEntity();
    // address.customer.address...: AddressDto documents city and country only.
    Object.assign(entity.address, { customer: entity, self: entity.address });
    expect(await serialize(CustomerDto, entity)).toEqual(customerWireBody());
    expect(await serialize(CustomerDto, [entity], true)).toEqual([customerWireBody()]);
  });

  it('sends a DTO instance with a cycle in what it leaves out, through instanceToPlain too', async () => {
    const dto = plainToInstance(CustomerDto, customerEntity());
    Object.assign(dto, { self: dto, parent: { child: dto } });
    Object.assign(dto.address, { owner: dto });
    expect(await serialize(CustomerDto, dto)).toEqual(customerWireBody());

    // A DTO without class-transformer metadata takes the shortcut; without it, the same body.
    const ping = Object.assign(new PingDto(), { message: 'hi', sequence: 1 });
    Object.assign(ping, { self: ping });
    for (const each of [serializer, transforming]) {
      expect(await each.serialize(operation(PingDto), ping)).toBe('{"message":"hi","sequence":1}');
    }
  });

  it('never calls an undeclared getter: what the DTO leaves out is not read at all', async () => {
    const failing = {
      enumerable: true,
      get: () => {
        throw new Error('an undeclared property was read');
      },
    };
    const record = Object.defineProperty({ message: 'hi', sequence: 1 }, 'blob', failing);
    const ping = Object.defineProperty(
      Object.assign(new PingDto(), { message: 'hi', sequence: 1 }),
      'blob',
      failing,
    );
    const entity = Object.defineProperty(customerEntity(), 'blob', failing);
    Object.defineProperty(entity.orders[1], 'blob', failing);

    for (const each of [serializer, transforming]) {
      expect(await each.serialize(operation(PingDto), record)).toBe(
        '{"message":"hi","sequence":1}',
      );
      expect(await each.serialize(operation(PingDto), ping)).toBe('{"message":"hi","sequence":1}');
      expect(JSON.parse(await each.serialize(operation(CustomerDto), entity))).toEqual(
        customerWireBody(),
      );
    }
  });

  // Keys are listed, to keep the undeclared primitives beside the declared ones (see `read`),
  // but no undeclared value is read through a getter, and nothing undeclared is entered.
  it('reads nothing but the properties the DTO documents or validates', async () => {
    const read = new Set<PropertyKey>();
    const watched = <T extends object>(target: T): T =>
      new Proxy(target, {
        get(object, key, receiver) {
          read.add(key);
          const value: unknown = Reflect.get(object, key, receiver);
          return typeof value === 'object' && value !== null && !(value instanceof Date)
            ? watched(value)
            : value;
        },
      });
    const payload = {
      ...customerEntity(),
      apiKey: 'sk_live_UNDECLARED',
      blob: Array.from({ length: 100_000 }, () => 'x'),
    };

    expect(await serialize(CustomerDto, watched(payload))).toEqual(customerWireBody());
    const documented = ['id', 'email', 'age', 'address', 'orders', 'createdAt', 'nickname'];
    const nested = ['city', 'country', 'sku', 'quantity', 'shippedAt'];
    const arrays = ['length', 'map', 'constructor', Symbol.species, '0', '1'];
    for (const key of read) expect([...documented, ...nested, ...arrays]).toContain(key);
    expect(read).not.toContain('apiKey');
    expect(read).not.toContain('blob');
  });
});

class Renamed {
  @ApiProperty({ name: 'display_name' }) @IsOptional() displayName: string;
  @ApiProperty({ name: 'full_name' }) @Expose({ name: 'full_name' }) @IsOptional() fullName: string;
  @ApiProperty() @Expose({ name: 'nick' }) @IsOptional() nickname: string;
  @ApiProperty() @IsOptional() status = 'active';
}

class Computed {
  @ApiProperty() @IsString() first: string;
  @ApiProperty() @Expose() get initials() {
    return `${this.first[0]}${this.last[0]}`;
  }
  @IsInt() @TransformTo(() => Number) count: number;
  declare last: string;
}

class Defaults {
  @ApiProperty() @IsOptional() status = 'active';
  @ApiProperty() @IsOptional() name: string;
}

class Counted {
  @ApiProperty() @IsString() name: string;
  @IsInt() @TransformTo(() => Number) count: number;
}

describe('WebhooksMetadataAccessor.getPayloadProperties', () => {
  it('lists what is documented (class and schema names), validated, and renamed by @Expose', () => {
    const renamed = accessor.getPayloadProperties(Renamed);
    expect([...renamed.keys()].sort()).toEqual(
      ['displayName', 'display_name', 'fullName', 'full_name', 'nick', 'nickname', 'status'].sort(),
    );
    expect(renamed.get('full_name')).toMatchObject({ exposed: true, validated: false });
    expect(renamed.get('fullName')).toMatchObject({ exposed: true, validated: true });

    const counted = accessor.getPayloadProperties(Counted);
    expect(counted.get('count')).toEqual({ nested: undefined, exposed: false, validated: true });
    const customer = accessor.getPayloadProperties(CustomerDto);
    expect(customer.get('orders')?.nested?.name).toBe('OrderLineDto');
    expect(customer.has('passwordHash')).toBe(false);
  });
});

// Beside the comparison cases of webhook-payload.spec.ts: names, defaults and getters come out
// as they did when class-transformer read the whole payload.
describe('WebhookPayloadSerializer: what class-transformer makes of what is declared', () => {
  it.each([
    [
      'schema names, @Expose names (one the schema lacks), a default',
      Renamed,
      { display_name: 'd', full_name: 'f', nick: 'n' },
      '{"display_name":"d","full_name":"f","status":"active"}',
    ],
    [
      'the class names of renamed properties',
      Renamed,
      { displayName: 'd', fullName: 'f', nickname: 'n', status: 's' },
      '{"status":"s"}',
    ],
    ['a field initializer and nothing else', Defaults, {}, '{"status":"active"}'],
  ] as const)('a plain payload: %s', async (_, type, payload, expected) => {
    expect(await serializer.serialize(operation(type), payload)).toBe(expected);
    expect(await transforming.serialize(operation(type), payload)).toBe(expected);
  });

  it.each([
    [
      'renamed properties',
      Object.assign(new Renamed(), { displayName: 'd', fullName: 'f', nickname: 'n' }),
      '{"full_name":"f","status":"active"}',
    ],
    [
      'an exposed getter that reads an undeclared field',
      Object.assign(new Computed(), { first: 'Ada', last: 'Lovelace', count: 1 }),
      '{"first":"Ada","initials":"AL"}',
    ],
  ] as const)('a DTO instance: %s', async (_, payload, expected) => {
    const type = payload.constructor as Type<unknown>;
    expect(await serializer.serialize(operation(type), payload)).toBe(expected);
    expect(await transforming.serialize(operation(type), payload)).toBe(expected);
  });

  it('validates an undocumented property as plainToInstance makes it (@Type), never sending it', async () => {
    expect(await serialize(Counted, { name: 'a', count: '5' })).toEqual({ name: 'a' });
    const error = await rejection(
      serializer.serialize(operation(Counted), { name: 'a', count: 'many' }),
    );
    expect(error.message).toContain('count must be an integer number');
  });
});

describe('WebhookPayloadSerializer: cycles in what the DTO documents', () => {
  it('refuses a back-reference the DTO documents, naming its path: never a RangeError', async () => {
    // The same graph of DTO instances (plainToInstance itself would overflow the stack on it).
    const instance = Object.assign(new CustomerNodeDto(), { id: 'cus_1' });
    instance.orders = [Object.assign(new OrderNodeDto(), { sku: 'engine-1', customer: instance })];
    for (const payload of [customerNode(), instance]) {
      const error = await rejection(serializer.serialize(operation(CustomerNodeDto), payload));

      expect(error.message).toContain(
        'orders.0.customer refers back to an enclosing object (the payload itself)',
      );
      const [orders] = error.errors;
      expect(orders.property).toBe('orders');
      expect(orders.children?.[0].property).toBe('0');
      const [customer] = orders.children?.[0].children ?? [];
      expect(customer.property).toBe('customer');
      expect(Object.keys(customer.constraints ?? {})).toEqual(['acyclic']);
    }
  });

  it('refuses it on a DTO instance that is validated as it is, too', async () => {
    const root = Object.assign(new LooseNode(), { id: 'a' });
    root.child = Object.assign(new LooseNode(), { id: 'b', child: root });
    for (const each of [serializer, transforming]) {
      const error = await rejection(each.serialize(operation(LooseNode), root));
      expect(error.message).toContain(
        'child.child refers back to an enclosing object (the payload itself)',
      );
    }
  });

  it('names the enclosing object it refers back to, and the array item it is in', async () => {
    const selfish = customerNode();
    selfish.orders[1].previous = selfish.orders[1];
    delete selfish.orders[0].customer;
    expect(
      (await rejection(serializer.serialize(operation(CustomerNodeDto), selfish))).message,
    ).toContain('orders.1.previous refers back to an enclosing object (at orders.1)');

    const batch = [customerNode('cus_1'), customerNode('cus_2')];
    delete batch[0].orders[0].customer;
    const error = await rejection(serializer.serialize(operation(CustomerNodeDto, true), batch));
    expect(error.message).toContain(
      '1.orders.0.customer refers back to an enclosing object (at 1)',
    );
  });

  it('refuses a cycle inside a documented free-form object', async () => {
    const metadata: Record<string, unknown> = { source: 'import', tags: ['a'] };
    metadata.nested = { back: metadata };
    const error = await rejection(
      serializer.serialize(operation(CustomerNodeDto), { id: 'cus_1', orders: [], metadata }),
    );
    expect(error.message).toContain(
      'metadata.nested.back refers back to an enclosing object (at metadata)',
    );
  });

  it('writes an object referred to twice, without a cycle, twice (as JSON.stringify does)', async () => {
    const home = { city: 'London', postcode: 'undeclared' };
    const body = await serialize(Shipment, {
      id: 's_1',
      billing: home,
      shipping: home,
      stops: [home, { city: 'Paris' }, home],
    });
    expect(body).toEqual({
      id: 's_1',
      billing: { city: 'London' },
      shipping: { city: 'London' },
      stops: [{ city: 'London' }, { city: 'Paris' }, { city: 'London' }],
    });

    const node = customerNode();
    delete node.orders[0].customer;
    const shared = node.orders[1];
    node.orders.push(shared);
    expect(await serialize(CustomerNodeDto, node)).toMatchObject({
      orders: [{ sku: 'engine-1' }, { sku: 'punch-card' }, { sku: 'punch-card' }],
    });
  });

  it('sends deep nesting without a cycle', async () => {
    const root: TreeNode = { id: 'n0' };
    let leaf = root;
    for (let depth = 1; depth < 300; depth++) leaf = leaf.child = { id: `n${depth}` };

    const body = JSON.stringify(await serialize(TreeNode, root));
    expect(body.match(/"id"/g)).toHaveLength(300);
    expect(body).toContain('{"id":"n299"}');
  });
});

describe('WebhookPayloadSerializer: validation errors carry no values', () => {
  it('leaves `value` out at every depth: nested DTOs and array items included', async () => {
    const apiKey = 'sk_live_51SECRET-API-KEY';
    const payload = {
      ...customerEntity(),
      apiKey,
      email: 'not-an-email',
      address: { city: '', country: 'GB', apiKey },
      orders: [{ sku: 'x', quantity: 0, shippedAt: new Date(0), apiKey }],
    };

    for (const [body, isArray] of [
      [payload, false],
      [[customerEntity(), payload], true],
    ] as const) {
      const error = await rejection(serializer.serialize(operation(CustomerDto, isArray), body));

      const errors = everyError(error.errors);
      expect(errors.length).toBeGreaterThanOrEqual(isArray ? 7 : 6);
      for (const item of errors) {
        expect(item.value).toBeUndefined();
        expect(item.target).toBeUndefined();
      }
      expect(JSON.stringify(error)).not.toContain(apiKey);
      expect(inspect(error, { depth: null })).not.toContain(apiKey);
      expect(inspect(error.errors, { depth: null })).not.toContain('SECRET');
      // The message still says where and what.
      const at = isArray ? '1.' : '';
      expect(error.message).toContain(`${at}email must be an email`);
      expect(error.message).toContain(`${at}address.city should not be empty`);
      expect(error.message).toContain(`${at}orders.0.quantity must not be less than 1`);
    }
  });
});

// What a payload's own primitives and its classes' rules read of it, beside what is declared:
// the same body, and the same validation verdict, as the serializer gave before it copied
// payloads (each expectation is what that version answered for the same case).
describe('what rules read of a payload beside its declared properties', () => {
  class Payment {
    @ApiProperty()
    @ValidateIf((payment: { method?: string }) => payment.method === 'card')
    @IsString()
    card: string;
  }

  @ValidatorConstraint({ name: 'matchesSibling' })
  class MatchesSibling implements ValidatorConstraintInterface {
    validate(value: unknown, args: ValidationArguments) {
      return value === (args.object as Record<string, unknown>)[args.constraints[0] as string];
    }
  }
  class Password {
    @ApiProperty() @Validate(MatchesSibling, ['confirm']) password: string;
  }

  class FullName {
    @ApiProperty() first: string;
    @ApiProperty()
    @Transform(({ obj }) => `${obj.first} ${obj.last}`, { toPlainOnly: true })
    display: string;
  }

  class Initials {
    @ApiProperty() first: string;
    @ApiProperty() @Expose() get initials() {
      return `${this.first[0]}${(this as { last?: string }).last?.[0]}`;
    }
  }

  class Animal {
    @ApiProperty() @IsString() kind: string;
    @ApiProperty() @IsString() name: string;
  }
  class Cat extends Animal {
    @IsBoolean() purrs: boolean;
  }
  class Owner {
    @ApiProperty({ type: () => Animal })
    @ValidateNested()
    @TransformTo(() => Animal, {
      discriminator: { property: 'kind', subTypes: [{ value: Cat, name: 'cat' }] },
      keepDiscriminatorProperty: true,
    })
    pet: Animal;
  }

  it.each([
    ['a plain object', () => ({ method: 'card', card: 5 })],
    ['a DTO instance', () => Object.assign(new Payment(), { method: 'card', card: 5 })],
  ])('runs a @ValidateIf condition on an undocumented sibling of %s', async (_case, make) => {
    const error = await rejection(serialize(Payment, make()));
    expect(error.message).toContain('card must be a string');
    expect(await serialize(Payment, { method: 'cash', card: 5 })).toEqual({ card: 5 });
  });

  it("gives a custom constraint's args.object the undocumented siblings", async () => {
    expect(await serialize(Password, { password: 'a', confirm: 'a' })).toEqual({ password: 'a' });
    const instance = Object.assign(new Password(), { password: 'a', confirm: 'a' });
    expect(await serialize(Password, instance)).toEqual({ password: 'a' });
  });

  it("gives a @Transform's obj and an exposed getter the undocumented siblings", async () => {
    const full = { first: 'Ada', last: 'L', display: 'x' };
    expect(await serialize(FullName, full)).toEqual({ first: 'Ada', display: 'Ada L' });
    expect(await serialize(FullName, Object.assign(new FullName(), full))).toEqual({
      first: 'Ada',
      display: 'Ada L',
    });
    expect(await serialize(Initials, { first: 'Ada', last: 'L' })).toEqual({
      first: 'Ada',
      initials: 'AL',
    });
  });

  it('validates a discriminated subtype by its own rules', async () => {
    const body = await serialize(Owner, { pet: { kind: 'cat', name: 'Tom', purrs: true } });
    expect(body).toEqual({ pet: { kind: 'cat', name: 'Tom' } });
    const error = await rejection(
      serialize(Owner, { pet: { kind: 'cat', name: 'Tom', purrs: 1 } }),
    );
    expect(error.message).toContain('pet.purrs must be a boolean value');
    const instance = Object.assign(new Cat(), { kind: 'cat', name: 'Tom', purrs: 'no' });
    const fromInstance = await rejection(serialize(Animal, instance));
    expect(fromInstance.message).toContain('purrs must be a boolean value');
  });

  it('refuses a cycle through an exposed getter inside a free-form value', async () => {
    class Node {
      name = 'n';
      @Expose() get self() {
        return this;
      }
    }
    class Free {
      @ApiProperty({ type: Object }) meta: unknown;
    }
    const error = await rejection(serialize(Free, { meta: new Node() }));
    expect(error.message).toContain('meta.self refers back to an enclosing object');
  });

  it('refuses a self-reference that class-validator would walk into, without @Type', async () => {
    class Loose {
      @ApiProperty() @IsString() name: string;
      @ApiProperty({ type: () => Loose, required: false })
      @IsOptional()
      @ValidateNested()
      next?: Loose;
    }
    const loop = Object.assign(new Loose(), { name: 'a' });
    loop.next = loop;
    const error = await rejection(serialize(Loose, loop));
    expect(error.message).toContain('next refers back to an enclosing object');
  });
});
