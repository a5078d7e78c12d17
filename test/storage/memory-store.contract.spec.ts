import { MemoryWebhookStore } from '../../lib/storage/memory-webhook.store.js';
import { describeStoreContract } from './store-contract.js';

describeStoreContract('MemoryWebhookStore', async () => ({
  create: async ({ retention, idempotencyTtl }) =>
    new MemoryWebhookStore({ retention, idempotencyTtl }),
}));
