import { Logger, type Type } from '@nestjs/common';
import type { DiscoveryService } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import type { WebhooksMetadataAccessor } from './webhooks-metadata.accessor.js';
import { WEBHOOKS_LOGGER_CONTEXT } from '../webhooks.constants.js';
import {
  conflictingWebhookOptions,
  duplicateWebhookOperation,
  invalidWebhookName,
  operationDeclaredTwice,
  operationWithoutWebhook,
  requestScopedWebhook,
  staticWebhookOperation,
  undocumentedWebhookBody,
  unknownWebhookBody,
  webhookWithoutOperations,
} from '../webhooks.messages.js';
import type {
  WebhookDefinition,
  WebhookOperation,
} from '../interfaces/webhook-definition.interface.js';
import type {
  WebhookMethod,
  WebhookOperationMetadata,
  WebhookOptions,
} from '../interfaces/webhook-options.interface.js';

// Types that say nothing about a body: an interface or `any` compiles to Object.
const OPAQUE_TYPES = new Set<unknown>([
  undefined,
  Object,
  Function,
  Array,
  Promise,
  String,
  Number,
  Boolean,
  Symbol,
  BigInt,
]);

// The `@Webhook()` options that document the webhook as a whole; the first class declaring a
// name would silently win for each of them, so every class declaring it must agree.
const SHARED_OPTIONS = ['summary', 'description', 'tags', 'deprecated'] as const;

/** Walks the application's providers and reads their webhook declarations. */
export class WebhooksExplorer {
  private readonly logger = new Logger(WEBHOOKS_LOGGER_CONTEXT);

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly accessor: WebhooksMetadataAccessor,
  ) {}

  /** Every declared webhook, by name, in a stable (sorted) order. */
  explore(): WebhookDefinition[] {
    const definitions = new Map<
      string,
      WebhookDefinition & { operations: Map<WebhookMethod, WebhookOperation> }
    >();
    for (const target of this.declaringClasses()) {
      const options = this.accessor.getWebhook(target);
      const operations = this.operationsOf(target);
      if (!options) {
        const [first] = operations;
        if (first) throw new Error(operationWithoutWebhook(describe(target, first.methodName)));
        continue;
      }
      if (typeof options.name !== 'string' || options.name.trim() === '') {
        throw new Error(invalidWebhookName(options.name, target.name));
      }
      if (operations.length === 0) {
        throw new Error(webhookWithoutOperations(options.name, target.name));
      }
      let definition = definitions.get(options.name);
      if (!definition) {
        definition = { name: options.name, options, target, operations: new Map() };
        definitions.set(options.name, definition);
      } else {
        const first = definition;
        const differing = SHARED_OPTIONS.filter(
          (key) => !sameOption(first.options[key], options[key]),
        );
        if (differing.length > 0) {
          throw new Error(
            conflictingWebhookOptions(options.name, first.target.name, target.name, differing),
          );
        }
      }
      for (const { methodName, metadata } of operations) {
        const existing = definition.operations.get(metadata.method);
        if (existing) {
          throw new Error(
            duplicateWebhookOperation(
              options.name,
              metadata.method,
              describe(existing.target, existing.methodName),
              describe(target, methodName),
            ),
          );
        }
        const body = this.bodyOf(target, methodName, metadata);
        if (!this.accessor.documentsAnyProperty(body.body)) {
          // A warning, not an error: an event may deliberately carry an empty object.
          this.logger.warn(
            undocumentedWebhookBody(body.body.name, options.name, describe(target, methodName)),
          );
        }
        definition.operations.set(metadata.method, {
          webhook: options.name,
          method: metadata.method,
          options: metadata.options,
          target,
          methodName,
          ...body,
        });
      }
    }
    // Code-unit order, not locale order: the same on every machine.
    return [...definitions.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
  }

  private declaringClasses(): Set<Type<unknown>> {
    const classes = new Set<Type<unknown>>();
    for (const wrapper of this.discovery.getProviders()) {
      const target = this.classOf(wrapper);
      if (target) classes.add(target);
    }
    return classes;
  }

  private classOf(wrapper: InstanceWrapper): Type<unknown> | undefined {
    if (wrapper.isAlias) return undefined;
    // A class provider's wrapper names its class, so most providers are ruled out without
    // touching their instance (core's DiscoverableMetaHostCollection defers it the same way).
    // `useValue` and `useFactory` providers are only known by their instance.
    const metatype = wrapper.metatype as Type<unknown> | null;
    const isClass = !!metatype?.prototype && !wrapper.inject;
    if (isClass && !this.accessor.declaresWebhooks(metatype)) return undefined;
    if (!wrapper.isDependencyTreeStatic()) {
      // Request-scoped providers have no instance at bootstrap; their class still declares.
      if (isClass) this.logger.warn(requestScopedWebhook(metatype.name));
      return isClass ? metatype : undefined;
    }
    const instance: unknown = wrapper.instance;
    if (!instance || typeof instance !== 'object' || !Object.getPrototypeOf(instance)) {
      return undefined;
    }
    // Resolves class, useValue and useFactory providers alike.
    const target = instance.constructor as Type<unknown>;
    return this.accessor.declaresWebhooks(target) ? target : undefined;
  }

  private operationsOf(target: Type<unknown>) {
    const operations = this.accessor.getOperations(target);
    const methods = new Map<string, string[]>();
    for (const { methodName, isStatic, metadata } of operations) {
      if (isStatic) throw new Error(staticWebhookOperation(describe(target, methodName)));
      const declared = methods.get(methodName);
      if (declared) {
        throw new Error(
          operationDeclaredTwice(describe(target, methodName), [...declared, metadata.method]),
        );
      }
      methods.set(methodName, [metadata.method]);
    }
    return operations;
  }

  private bodyOf(
    target: Type<unknown>,
    methodName: string,
    { options }: WebhookOperationMetadata,
  ): { body: Type<unknown>; isArray: boolean } {
    const declared = options.body ?? this.accessor.getParameterTypes(target, methodName)[0];
    const isArray = Array.isArray(declared);
    const body: unknown = isArray ? declared[0] : declared;
    if (
      typeof body !== 'function' ||
      OPAQUE_TYPES.has(body) ||
      (isArray && declared.length !== 1)
    ) {
      throw new Error(unknownWebhookBody(describe(target, methodName), describeType(declared)));
    }
    return { body: body as Type<unknown>, isArray };
  }
}

function sameOption(
  first: WebhookOptions[keyof WebhookOptions],
  second: WebhookOptions[keyof WebhookOptions],
): boolean {
  return JSON.stringify(first) === JSON.stringify(second);
}

const describe = (target: Type<unknown>, methodName: string) => `${target.name}.${methodName}()`;

function describeType(type: unknown): string {
  if (type === undefined) return 'unknown (the method has no parameter)';
  if (Array.isArray(type)) return `[${type.map(describeType).join(', ')}]`;
  if (typeof type === 'function') {
    return type === Object ? 'Object (an interface, a type alias or any)' : type.name;
  }
  return JSON.stringify(type);
}
