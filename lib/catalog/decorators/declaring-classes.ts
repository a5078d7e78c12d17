import type { Type } from '@nestjs/common';

// The classes that carry `@Webhook()` or an operation decorator. An app has hundreds of
// providers and a few webhooks: with this set the explorer tells the two apart with a lookup
// per class in each provider's class chain instead of metadata reads on every provider (the
// same idea as core's `DiscoverableMetaHostCollection`, which `DiscoveryService.createDecorator`
// feeds, but it also finds a provider that inherits its declarations from a parent class).
// Weak: declaring nothing keeps no class alive. One set per process, not per copy of this
// module: with two installed copies of the library (a monorepo's duplicate install), classes
// decorated through one are still found by the other, as they are through their metadata.
const REGISTRY = Symbol.for('nestjs-webhooks:declaring-classes');
const declaringClasses: WeakSet<object> = ((globalThis as Record<symbol, unknown>)[REGISTRY] ??=
  new WeakSet<object>()) as WeakSet<object>;

/** Records that `target` declares webhooks; called by the decorators only. */
export function markDeclaringClass(target: object): void {
  declaringClasses.add(target);
}

/** Whether `target` or one of its parent classes carries a webhook decorator. */
export function declaresWebhooks(target: Type<unknown>): boolean {
  for (let type: unknown = target; typeof type === 'function'; type = Object.getPrototypeOf(type)) {
    if (declaringClasses.has(type)) return true;
  }
  return false;
}
