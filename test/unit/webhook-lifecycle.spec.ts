import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { WebhookLifecycle } from '../../lib/delivery/webhook-lifecycle.js';
import type { WebhookLifecycleEvent } from '../../lib/interfaces/webhook-events.interface.js';

const disabled = (id: string): WebhookLifecycleEvent => ({
  type: 'endpoint-disabled',
  endpoint: { id, url: 'https://example.com/hooks', tenant: null },
  reason: 'test',
});

describe('WebhookLifecycle events', () => {
  it('behaves as an RxJS stream: operators, promises, unsubscribe and complete', async () => {
    const lifecycle = new WebhookLifecycle();
    const firstTwo = firstValueFrom(lifecycle.events.pipe(take(2), toArray()));
    const seen: string[] = [];
    const subscription = lifecycle.events.subscribe((event) => seen.push(event.type));
    let completed = false;
    lifecycle.events.subscribe({ complete: () => (completed = true) });

    lifecycle.publish(disabled('ep_1'));
    subscription.unsubscribe();
    lifecycle.publish(disabled('ep_2'));
    lifecycle.complete();

    expect(
      (await firstTwo).map((event) => event.type === 'endpoint-disabled' && event.endpoint.id),
    ).toEqual(['ep_1', 'ep_2']);
    expect(seen).toEqual(['endpoint-disabled']);
    expect(completed).toBe(true);
  });

  it('passes through a subscriber of another copy of RxJS, so its unsubscribe tears down', () => {
    const lifecycle = new WebhookLifecycle();
    type Teardown = (() => void) | { unsubscribe(): void };
    const teardowns: Teardown[] = [];
    const received: string[] = [];
    // What a Subscriber from a second copy of RxJS looks like to this one: its shape only.
    const foreign = {
      closed: false,
      next: (event: WebhookLifecycleEvent) => received.push(event.type),
      error: () => undefined,
      complete: () => undefined,
      add: (teardown: Teardown) => teardowns.push(teardown),
      remove: () => undefined,
      unsubscribe() {
        this.closed = true;
        for (const teardown of teardowns.splice(0)) {
          if (typeof teardown === 'function') teardown();
          else teardown.unsubscribe();
        }
      },
    };

    lifecycle.events.subscribe(foreign);
    lifecycle.publish(disabled('ep_1'));
    foreign.unsubscribe();
    lifecycle.publish(disabled('ep_2'));

    expect(received).toEqual(['endpoint-disabled']);
  });
});
