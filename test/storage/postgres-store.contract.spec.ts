import { startDatabase } from '../support/postgres.js';
import { describeStoreContract } from './store-contract.js';

describeStoreContract('PostgresWebhookStore', async () => {
  const db = await startDatabase();
  return {
    create: ({ retention, idempotencyTtl }) => db.store({ retention, idempotencyTtl }),
    reset: () => db.truncate(),
    dispose: () => db.drop(),
  };
});
