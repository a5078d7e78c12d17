import { randomBytes } from 'node:crypto';
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

// The same with secrets sealed at rest: every path that writes or reads an endpoint (claims,
// sweeps and records among them) opens what it sealed.
describeStoreContract('PostgresWebhookStore with encryptionKeys', async () => {
  const db = await startDatabase();
  const encryptionKeys = [randomBytes(32), randomBytes(32)];
  return {
    create: ({ retention, idempotencyTtl }) =>
      db.store({ retention, idempotencyTtl, encryptionKeys }),
    reset: () => db.truncate(),
    dispose: () => db.drop(),
  };
});
