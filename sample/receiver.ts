// A customer's receiver for the sample: registers itself with the sample app's dashboard,
// then verifies every webhook it gets with the reference `standardwebhooks` package.
import { createServer } from 'node:http';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

const port = Number(process.env.RECEIVER_PORT ?? 9000);
const app = process.env.APP_URL ?? 'http://127.0.0.1:8000';
const url = `http://127.0.0.1:${port}/webhooks`;

async function register(): Promise<string> {
  const response = await fetch(`${app}/dashboard/endpoints`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url, events: ['new-subscription'], description: 'sample receiver' }),
  });
  if (!response.ok) {
    throw new Error(
      `Registering ${url} at ${app} failed: ${response.status} ${await response.text()}`,
    );
  }
  const endpoint = (await response.json()) as { id: string; secret: string };
  console.log(`Registered endpoint ${endpoint.id} for ${url}`);
  return endpoint.secret;
}

async function main() {
  // Until registration returns the secret nothing can be verified; 503 makes the sender retry.
  let verifier: Webhook | undefined;
  const server = createServer((req, res) => {
    const current = verifier;
    if (!current) {
      res.writeHead(503, { 'retry-after': '1' }).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      try {
        const payload = current.verify(body, {
          'webhook-id': String(req.headers['webhook-id']),
          'webhook-timestamp': String(req.headers['webhook-timestamp']),
          'webhook-signature': String(req.headers['webhook-signature']),
        });
        console.log(`verified ${req.headers['webhook-id']}:`, payload);
        res.writeHead(204).end();
      } catch (error) {
        const reason = error instanceof WebhookVerificationError ? error.message : String(error);
        console.log(`REJECTED ${req.headers['webhook-id']}: ${reason}`);
        res.writeHead(401).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  verifier = new Webhook(await register());
  console.log(`Listening on ${url}; create a subscription to see a webhook arrive:`);
  console.log(
    `  curl -X POST ${app}/subscriptions -H 'content-type: application/json' ` +
      `-d '{"username":"rick","monthly_fee":9.99}'`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
