import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../support/free-port.js';

// The README's first command, as a newcomer runs it: `npm start` builds the sample with the
// Nest CLI into dist-sample/ and runs that build, on the embedded in-memory default. The other
// sample tests boot the sample from its sources, so they cannot see what the build leaves out
// (the portal's assets, once). dist-sample/ is removed first, as on a fresh clone.

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
// `nest start` type-checks and compiles lib/ and sample/ first: slow on a 2-core machine.
const START_TIMEOUT = 180_000;

describe('npm start', () => {
  let child: ChildProcess;
  let output = '';
  let baseUrl = '';

  beforeAll(async () => {
    await rm(new URL('dist-sample/', `file://${REPO}`), { recursive: true, force: true });
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1' };
    // The embedded default: no database, whatever the machine's environment says.
    delete env.DATABASE_URL;
    child = spawn('npm', ['start'], { cwd: REPO, env, detached: true });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    baseUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`npm start did not serve its docs in time:\n${output}`)),
        START_TIMEOUT - 10_000,
      );
      const check = () => {
        const match = /Docs at (http:\/\/127\.0\.0\.1:\d+)\/docs/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      child.stdout!.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited with ${code} before serving its docs:\n${output}`));
      });
    });
  }, START_TIMEOUT);

  afterAll(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // npm, the Nest CLI and the app: the whole process group.
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  });

  it('serves Swagger UI at /docs, with the webhooks in its document', async () => {
    const page = await fetch(`${baseUrl}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger-ui');
    const document = (await (await fetch(`${baseUrl}/docs-json`)).json()) as {
      webhooks?: Record<string, unknown>;
    };
    expect(Object.keys(document.webhooks ?? {})).not.toHaveLength(0);
  });

  it('serves the tenant portal from the build, its assets included', async () => {
    const link = (await (await fetch(`${baseUrl}/portal-link?tenant=demo`)).json()) as {
      url: string;
    };
    const page = await fetch(link.url.split('#')[0]);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const script = await fetch(`${baseUrl}/webhooks/portal/assets/portal.js`);
    expect(script.status).toBe(200);
    expect((await script.text()).length).toBeGreaterThan(1_000);
  });
});
