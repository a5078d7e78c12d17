import { execFile } from 'node:child_process';
import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  realpath,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `npm pack` must give a package that a separate NestJS app can install and use, holding only
// dist/, README and LICENSE. The tarball is extracted into a consumer app in a temp dir, whose
// peer dependencies are symlinked from this repo's node_modules (no network, no npm install).

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../../fixtures/consumer-app/', import.meta.url));
const TSC = join(REPO, 'node_modules', '.bin', 'tsc');
// `npm pack` runs `prepack` -> `npm run build` (tsc over lib/), and the consumer type check is
// another full tsc run: both are slow on a 2-core machine.
const BUILD_TIMEOUT = 180_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never throws for a non-zero exit (the caller asserts on it). */
function run(command: string, args: string[], cwd: string, timeout = BUILD_TIMEOUT): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, timeout, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr: error && !stderr ? String(error) : stderr });
      },
    );
  });
}

function explain(result: Run): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** What test/fixtures/consumer-app/app.mjs prints after `CONSUMER_RESULT `. */
interface ConsumerOutput {
  resolved: string;
  openapi: string;
  webhook: { post: { parameters: { name: string }[] } & Record<string, unknown> };
  schema: unknown;
  noRoute: number;
  portal: { page: number; script: number; session: Record<string, unknown> };
  emitted: { id: string; event: string; endpoints: number };
  endpointSecretPrefix: string;
  received: {
    method: string;
    webhookId: string;
    contentType: string;
    userAgent: string;
    body: unknown;
  };
  verified: unknown;
  errors: Record<string, string>;
  deliveries: number;
}

interface PackResult {
  name: string;
  version: string;
  filename: string;
  files: { path: string }[];
}

describe('npm pack', () => {
  let packDir: string;
  let consumerDir: string;
  let tarball: string;
  let packed: PackResult;

  beforeAll(async () => {
    packDir = await mkdtemp(join(tmpdir(), 'nestjs-webhooks-pack-'));
    consumerDir = await mkdtemp(join(tmpdir(), 'nestjs-webhooks-consumer-'));

    const pack = await run('npm', ['pack', '--json', '--pack-destination', packDir], REPO);
    if (pack.code !== 0) throw new Error(`npm pack failed: ${explain(pack)}`);
    // Lifecycle output (prepack, build) goes to stderr; stdout is the JSON report.
    [packed] = JSON.parse(pack.stdout) as PackResult[];
    tarball = join(packDir, packed.filename);

    // The consumer app: the tarball extracted where `npm install` would put it ...
    const installed = join(consumerDir, 'node_modules', 'nestjs-webhooks');
    await mkdir(installed, { recursive: true });
    const untar = await run(
      'tar',
      ['-xzf', tarball, '-C', installed, '--strip-components=1'],
      REPO,
    );
    if (untar.code !== 0) throw new Error(`tar failed: ${explain(untar)}`);
    // ... beside its peers (and their dependencies, and ours: ipaddr.js, undici), linked from
    // this repo. Node resolves the links to their real paths, so the package and the app share
    // one copy of @nestjs/common, @nestjs/core and reflect-metadata, as in a real install.
    const repoModules = join(REPO, 'node_modules');
    for (const entry of await readdir(repoModules)) {
      if (entry.startsWith('.') || entry === 'nestjs-webhooks') continue;
      await symlink(join(repoModules, entry), join(consumerDir, 'node_modules', entry), 'dir');
    }
    for (const file of ['app.mjs', 'consumer.ts', 'tsconfig.json']) {
      await copyFile(join(FIXTURE, file), join(consumerDir, file));
    }
    await writeFile(
      join(consumerDir, 'package.json'),
      JSON.stringify({ name: 'consumer-app', private: true, type: 'module' }, null, 2),
    );
  }, BUILD_TIMEOUT);

  afterAll(async () => {
    for (const dir of [packDir, consumerDir]) {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  });

  it('holds only package.json, README.md, LICENSE and dist/ with type declarations', async () => {
    expect(packed).toMatchObject({ name: 'nestjs-webhooks', version: expect.any(String) });
    const paths = packed.files.map((file) => file.path).sort();
    const outside = paths.filter(
      (path) =>
        !['package.json', 'README.md', 'LICENSE'].includes(path) && !path.startsWith('dist/'),
    );
    expect(outside).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE']));
    expect(paths).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts']));
    for (const dir of ['lib/', 'test/', 'sample/', 'bench/', 'src/', 'node_modules/']) {
      expect(paths.filter((path) => path.startsWith(dir))).toEqual([]);
    }
    // Every module ships its declarations (the portal page's script is an asset it serves, not a
    // module), and no test or sample code hides inside dist/.
    const assets = ['index.html', 'portal.js', 'portal.css', 'favicon.svg'];
    expect(paths).toEqual(
      expect.arrayContaining(assets.map((name) => `dist/portal/assets/${name}`)),
    );
    const modules = paths.filter(
      (path) => path.endsWith('.js') && !path.startsWith('dist/portal/assets/'),
    );
    expect(modules.length).toBeGreaterThan(1);
    for (const module of modules) {
      expect(paths).toContain(module.replace(/\.js$/, '.d.ts'));
    }
    expect(paths.filter((path) => /\.(spec|e2e)\.|\/(test|sample|bench)\//.test(path))).toEqual([]);

    // The tarball itself says the same as npm's report.
    const listing = await run('tar', ['-tzf', tarball], REPO);
    expect(listing.code, explain(listing)).toBe(0);
    const entries = listing.stdout
      .split('\n')
      .filter((line) => line && !line.endsWith('/'))
      .map((line) => line.replace(/^package\//, ''))
      .sort();
    expect(entries).toEqual(paths);
  });

  it('runs in a separate NestJS app that imports it by name: documents and delivers', async () => {
    const installed = join(consumerDir, 'node_modules', 'nestjs-webhooks');
    expect(existsSync(join(installed, 'dist', 'index.js'))).toBe(true);
    expect(existsSync(join(installed, 'lib'))).toBe(false);

    const result = await run(process.execPath, ['app.mjs'], consumerDir, 60_000);
    expect(result.code, explain(result)).toBe(0);
    const line = result.stdout.split('\n').find((text) => text.startsWith('CONSUMER_RESULT '));
    expect(line, explain(result)).toBeDefined();
    const output = JSON.parse(line!.slice('CONSUMER_RESULT '.length)) as ConsumerOutput;

    // The package the app loaded is the extracted tarball, not this repo's sources.
    const entry = pathToFileURL(join(await realpath(installed), 'dist', 'index.js')).href;
    expect(output.resolved).toBe(entry);

    // Documented: the webhook under `webhooks` of the served 3.1 document, with its schema.
    expect(output.openapi).toBe('3.1.0');
    expect(output.webhook.post).toMatchObject({
      description: 'The order left the warehouse.',
      requestBody: {
        required: true,
        content: {
          'application/json': { schema: { $ref: '#/components/schemas/OrderShipped' } },
        },
      },
    });
    expect(output.webhook.post.parameters.map((parameter) => parameter.name)).toEqual([
      'webhook-id',
      'webhook-timestamp',
      'webhook-signature',
    ]);
    expect(output.schema).toEqual({
      type: 'object',
      properties: { orderId: { type: 'string' }, quantity: { type: 'number' } },
      required: ['orderId', 'quantity'],
    });
    expect(output.noRoute).toBe(404);
    expect(output.portal.page).toBe(200);
    expect(output.portal.script).toBeGreaterThan(1000);
    expect(output.portal.session).toMatchObject({ tenant: 'consumer', readOnly: false });

    // Delivered: signed (verified with `standardwebhooks`), only the declared properties.
    expect(output.emitted).toMatchObject({ event: 'order-shipped', endpoints: 1 });
    expect(output.endpointSecretPrefix).toBe('whsec_');
    expect(output.received).toMatchObject({
      method: 'POST',
      webhookId: output.emitted.id,
      body: { orderId: 'ord_1', quantity: 2 },
    });
    expect(output.received.contentType).toMatch(/^application\/json/);
    expect(output.received.userAgent).toMatch(/^nestjs-webhooks\//);
    expect(output.verified).toEqual({ orderId: 'ord_1', quantity: 2 });
    expect(output.deliveries).toBe(1);

    // The public error classes are the ones the package's code throws.
    expect(output.errors).toEqual({
      invalidPayload: 'WebhookPayloadValidationError',
      unknownEvent: 'UnknownWebhookError',
      privateUrl: 'WebhookEndpointUrlError',
    });
  }, 90_000);

  it(
    'type-checks a TypeScript consumer against the published declarations (skipLibCheck off)',
    async () => {
      const result = await run(TSC, ['-p', 'tsconfig.json', '--noEmit'], consumerDir);
      expect(result.code, explain(result)).toBe(0);
    },
    BUILD_TIMEOUT,
  );
});
