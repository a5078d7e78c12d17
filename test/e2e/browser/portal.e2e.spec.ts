import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPortalApp, type PortalApp } from '../../fixtures/portal/portal-app.js';
import { launchChromium } from '../../support/chromium.js';
import { startReceiver, type Receiver } from '../../support/receiver.js';

// The tenant portal's page in Debian's chromium (never a downloaded browser, as the Swagger UI
// test), against a real Nest app and a real receiver on loopback.

const ARTIFACTS = new URL('../../../.artifacts/portal/', import.meta.url).pathname;
// Generous: a 2-core machine boots Nest, starts Chromium and delivers webhooks in here.
const TIMEOUT = 60_000;
// The spec compiles without the DOM library: what runs in the page is given as source text.
const HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';

describe('tenant portal page (headless Chromium)', () => {
  let app: PortalApp;
  let receiver: Receiver;
  let bulkReceiver: Receiver;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];
  const requested: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    receiver = await startReceiver();
    bulkReceiver = await startReceiver();
    app = await startPortalApp({
      webhooks: { allowedNetworks: ['127.0.0.0/8'], retryDelays: [50] },
    });
    browser = await launchChromium(TIMEOUT);
  }, TIMEOUT);

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await app?.close();
    await receiver?.close();
    await bulkReceiver?.close();
  }, TIMEOUT);

  /** A fresh tab (its own sessionStorage) on a new link of `tenant`. */
  async function open(
    tenant: string,
    options: { readOnly?: boolean; viewport?: { width: number; height: number } } = {},
  ): Promise<Page> {
    const context = await browser!.newContext({
      viewport: options.viewport ?? { width: 1280, height: 900 },
    });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') {
        problems.push(`console: ${message.text()} (${message.location().url})`);
      }
    });
    page.on('request', (request) => requested.push(request.url()));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });
    const link = await app.portal.createLink(tenant, { readOnly: options.readOnly ?? false });
    await page.goto(`${app.origin}${link.url}`, { waitUntil: 'load' });
    await page.locator('#tenant-name', { hasText: tenant }).waitFor();
    return page;
  }

  const view = (page: Page, name: string) =>
    page.getByRole('navigation', { name: 'Portal sections' }).getByRole('button', { name });

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });

  /** Asserts what every test ends with: no error in the page, no request off loopback. */
  function expectCleanPage() {
    expect(problems).toEqual([]);
    const hosts = new Set(requested.map((url) => new URL(url).hostname));
    expect([...hosts]).toEqual(['127.0.0.1']);
  }

  it(
    'adds an endpoint, shows its secret once, sends a test event, shows a failure and redelivers',
    async () => {
      const page = await open('acme');
      expect(page.url()).not.toContain('#');
      expect(page.url()).not.toContain('token');
      await expect(page.locator('#link-expiry').isVisible()).resolves.toBe(true);

      const form = page.getByRole('form', { name: 'Add an endpoint' });
      await form.getByLabel('Endpoint URL').fill(`${receiver.url}/acme`);
      await form.getByRole('checkbox', { name: 'ping' }).check();
      await form.getByLabel('Description (optional)').fill('Orders service');
      await form.getByRole('button', { name: 'Add endpoint' }).click();

      const secret = page.getByLabel('New endpoint secret');
      await secret.waitFor();
      const secretText = (await secret.textContent()) ?? '';
      expect(secretText.startsWith('whsec_')).toBe(true);
      const card = page.getByRole('article', { name: `${receiver.url}/acme` });
      await card.waitFor();
      await shot(page, 'endpoints-new-secret');

      // Shown once: not after going elsewhere and back, nor after a reload.
      await view(page, 'Event catalog').click();
      await page.getByRole('heading', { name: 'Event catalog' }).waitFor();
      await page.getByRole('article', { name: 'ping' }).waitFor();
      await shot(page, 'event-catalog');
      await view(page, 'Endpoints').click();
      await card.waitFor();
      await expect(page.getByLabel('New endpoint secret').count()).resolves.toBe(0);
      await page.reload({ waitUntil: 'load' });
      await card.waitFor();
      await expect(page.getByLabel('New endpoint secret').count()).resolves.toBe(0);
      await expect(page.content()).resolves.not.toContain(secretText);
      // The reload found the token in sessionStorage, not in the address bar.
      await page.locator('#tenant-name', { hasText: 'acme' }).waitFor();

      // A test event, delivered.
      await card.getByRole('button', { name: 'Send test event' }).click();
      await receiver.waitFor(1);
      await view(page, 'Message log').click();
      const delivered = page.locator('#log-list details[data-status="delivered"]');
      await delivered.first().waitFor();
      const messageId = await delivered.first().getAttribute('data-message-id');
      expect(receiver.requests[0].headers['webhook-id']).toBe(messageId);
      await expect(delivered.first().locator('.badge-test').count()).resolves.toBe(1);
      await delivered.first().locator('summary').click();
      await delivered.first().locator('.message-id', { hasText: messageId! }).waitFor();
      await delivered.first().locator('pre.body', { hasText: '"message"' }).waitFor();

      // A failing receiver: the emitted message fails after its one retry, with its 500.
      receiver.behave((_request, response) => {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('receiver exploded');
      });
      const emitted = await app.emitter.emit(
        'ping',
        { message: 'ping', sequence: 1 },
        { tenant: 'acme' },
      );
      await receiver.waitFor(3);
      await page.getByRole('button', { name: 'Refresh' }).click();
      const failed = page.locator(`#log-list details[data-message-id="${emitted.id}"]`);
      await page
        .locator(`#log-list details[data-message-id="${emitted.id}"][data-status="failed"]`)
        .waitFor();
      await failed.locator('summary').click();
      await failed.locator('.attempt .code', { hasText: 'HTTP 500' }).first().waitFor();
      await failed.locator('pre.excerpt', { hasText: 'receiver exploded' }).first().waitFor();
      await expect(failed.locator('.attempt').count()).resolves.toBe(2);
      await shot(page, 'message-log');

      // Back on its feet: Redeliver, and the page follows it to delivered by itself.
      receiver.behave(() => undefined);
      const before = receiver.requests.length;
      await failed.getByRole('button', { name: 'Redeliver' }).click();
      await receiver.waitFor(before + 1);
      await page
        .locator(`#log-list details[data-message-id="${emitted.id}"][data-status="delivered"]`)
        .waitFor();
      expect(receiver.requests.at(-1)!.headers['webhook-id']).toBe(emitted.id);
      expectCleanPage();
    },
    TIMEOUT,
  );

  it(
    'shows a hostile response body as text, running nothing of it',
    async () => {
      const endpoint = await app.endpoints.add({
        url: `${receiver.url}/hostile`,
        events: ['ping'],
        tenant: 'hostile',
      });
      receiver.behave((_request, response) => {
        response.writeHead(500, { 'content-type': 'text/html' });
        response.end(HOSTILE);
      });
      const before = receiver.requests.length;
      await app.emitter.emit('ping', { message: HOSTILE, sequence: 2 }, { tenant: 'hostile' });
      await receiver.waitFor(before + 2);
      receiver.behave(() => undefined);

      const page = await open('hostile');
      await page.getByRole('article', { name: endpoint.url }).waitFor();
      await view(page, 'Message log').click();
      const row = page.locator('#log-list details[data-status="failed"]').first();
      await row.waitFor();
      await row.locator('summary').click();
      const excerpt = row.locator('pre.excerpt', { hasText: '<script>' }).first();
      await excerpt.waitFor();
      await expect(excerpt.textContent()).resolves.toBe(HOSTILE);
      // The message body (which holds the same text) is shown as text too.
      await row.locator('pre.body', { hasText: '<img src=x' }).waitFor();
      await expect(page.evaluate('window.__pwned')).resolves.toBeUndefined();
      await expect(page.locator('#log-list img').count()).resolves.toBe(0);
      await expect(page.locator('#log-list script').count()).resolves.toBe(0);
      expectCleanPage();
    },
    TIMEOUT,
  );

  it(
    'offers no write control to a read-only link',
    async () => {
      const page = await open('acme', { readOnly: true });
      await page.locator('#read-only-badge').waitFor();
      await page.getByRole('article', { name: `${receiver.url}/acme` }).waitFor();
      for (const name of [
        'Add endpoint',
        'Send test event',
        'Disable',
        'Enable',
        'Reveal secret',
        'Rotate secret',
        'Delete',
        'Recover',
        'Save changes',
      ]) {
        await expect(page.getByRole('button', { name, exact: true }).count()).resolves.toBe(0);
      }
      await expect(page.getByLabel('Endpoint URL').count()).resolves.toBe(0);
      await shot(page, 'read-only');
      await view(page, 'Message log').click();
      const row = page.locator('#log-list details').first();
      await row.waitFor();
      await row.locator('summary').click();
      await row.locator('.attempt').first().waitFor();
      await expect(page.getByRole('button', { name: 'Redeliver' }).count()).resolves.toBe(0);
      expectCleanPage();
    },
    TIMEOUT,
  );

  it(
    'fits a phone: no horizontal scrolling in any view',
    async () => {
      const page = await open('acme', { viewport: { width: 375, height: 800 } });
      const scrolls = () =>
        page.evaluate('document.documentElement.scrollWidth > window.innerWidth');
      await page.getByRole('article', { name: `${receiver.url}/acme` }).waitFor();
      await expect(scrolls()).resolves.toBe(false);
      await shot(page, 'phone-endpoints');
      await view(page, 'Event catalog').click();
      await page.getByRole('article', { name: 'customer-created' }).waitFor();
      await expect(scrolls()).resolves.toBe(false);
      await view(page, 'Message log').click();
      const row = page.locator('#log-list details[data-status="delivered"]').first();
      await row.waitFor();
      await row.locator('summary').click();
      await row.locator('pre.body').waitFor();
      await expect(scrolls()).resolves.toBe(false);
      await shot(page, 'phone-message-log');
      expectCleanPage();
    },
    TIMEOUT,
  );

  it(
    'pages through 10,000 messages',
    async () => {
      await app.endpoints.add({
        url: `${bulkReceiver.url}/bulk`,
        events: ['ping'],
        tenant: 'bulk',
      });
      const emitStart = Date.now();
      for (let batch = 0; batch < 20; batch++) {
        await Promise.all(
          Array.from({ length: 500 }, (_, index) =>
            app.emitter.emit(
              'ping',
              { message: 'bulk', sequence: batch * 500 + index },
              { tenant: 'bulk' },
            ),
          ),
        );
      }
      console.log(`portal e2e: emitted 10,000 messages in ${Date.now() - emitStart} ms`);

      const page = await open('bulk');
      await page.locator('#endpoint-list article').first().waitFor();
      const clicked = Date.now();
      await view(page, 'Message log').click();
      const rows = page.locator('#log-list details');
      await rows.first().waitFor();
      const firstPage = Date.now() - clicked;
      const shown = await rows.count();
      expect(shown).toBeGreaterThan(0);
      await page.getByRole('button', { name: 'Load more' }).click();
      await rows.nth(shown).waitFor();
      expect(await rows.count()).toBeGreaterThan(shown);
      const sizes = (await page.evaluate(
        `performance.getEntriesByType('resource').map((entry) => {
          const url = new URL(entry.name);
          return url.pathname.split('/').slice(-2).join('/') + url.search.slice(0, 40) +
            ': ' + entry.transferSize + ' B';
        })`,
      )) as string[];
      console.log(
        `portal e2e: first page of the log (${shown} rows) visible ${firstPage} ms after the click; ` +
          `${await rows.count()} rows after Load more`,
      );
      console.log(`portal e2e: transferred\n  ${sizes.join('\n  ')}`);
      expectCleanPage();
    },
    TIMEOUT,
  );

  it(
    'adds an endpoint with the keyboard alone',
    async () => {
      const page = await open('keys');
      await page.getByRole('form', { name: 'Add an endpoint' }).waitFor();
      const focusedName = () =>
        page.evaluate(
          `(() => {
            const active = document.activeElement;
            return active ? active.tagName + ':' + (active.name || active.textContent) : '';
          })()`,
        );
      let presses = 0;
      while ((await focusedName()) !== 'INPUT:url') {
        await page.keyboard.press('Tab');
        presses += 1;
        expect(presses).toBeLessThan(20);
      }
      await page.keyboard.type(`${receiver.url}/keys`);
      while (!(await page.evaluate(`document.activeElement?.value === 'ping'`))) {
        await page.keyboard.press('Tab');
        presses += 1;
        expect(presses).toBeLessThan(30);
      }
      await page.keyboard.press('Space');
      while ((await focusedName()) !== 'INPUT:description') await page.keyboard.press('Tab');
      await page.keyboard.type('typed');
      await page.keyboard.press('Enter');
      await page.getByLabel('New endpoint secret').waitFor();
      await page.getByRole('article', { name: `${receiver.url}/keys` }).waitFor();
      await expect(page.evaluate('document.activeElement?.id')).resolves.toBe('new-secret-title');
      expectCleanPage();
    },
    TIMEOUT,
  );
});
