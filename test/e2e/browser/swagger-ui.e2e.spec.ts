import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../support/chromium.js';
import { startSampleServer, type SampleServer } from '../../support/sample-server.js';

const SCREENSHOT = '/tmp/swagger-ui.png';
// Generous: a 2-core machine boots Nest, starts Chromium and renders Swagger UI in here.
const TIMEOUT = 60_000;

describe('Swagger UI of the sample app (headless Chromium)', () => {
  let server: SampleServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await startSampleServer();
    browser = await launchChromium(TIMEOUT);
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.setDefaultTimeout(TIMEOUT);
    page.on('pageerror', (error) => pageErrors.push(error.message));

    await page.goto(`${server.baseUrl}/docs`, { waitUntil: 'load' });
    // Swagger UI fetches the document, then renders the operations and the webhooks.
    await page.locator('.swagger-ui .information-container .title').waitFor();
    await page.locator('.swagger-ui .opblock').first().waitFor();
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  }, TIMEOUT);

  it(
    'shows the Webhooks section with new-subscription beside GET /users',
    async () => {
      const webhooks = page.locator('.swagger-ui .webhooks');
      await expect(webhooks.locator('h2').textContent()).resolves.toBe('Webhooks');

      const newSubscription = webhooks.locator('.opblock', {
        has: page.locator('.opblock-summary-path', { hasText: /^new-subscription$/ }),
      });
      await expect(newSubscription.count()).resolves.toBe(1);
      await expect(newSubscription.locator('.opblock-summary-method').textContent()).resolves.toBe(
        'POST',
      );

      const users = page.locator('.swagger-ui .opblock', {
        has: page.locator('.opblock-summary-path', { hasText: /^\/users\/?$/ }),
      });
      await expect(users.count()).resolves.toBe(1);
      await expect(users.locator('.opblock-summary-method').textContent()).resolves.toBe('GET');
      // GET /users is a path operation, not a webhook; the webhook is not a path operation.
      await expect(webhooks.locator('.opblock-get').count()).resolves.toBe(0);
      await expect(
        page
          .locator('.swagger-ui .opblock-tag-section .opblock-summary-path')
          .filter({ hasText: 'new-subscription' })
          .count(),
      ).resolves.toBe(0);

      // The path operations come first and the Webhooks section under them.
      const usersBox = await users.boundingBox();
      const webhooksBox = await webhooks.boundingBox();
      expect(usersBox).not.toBeNull();
      expect(webhooksBox).not.toBeNull();
      expect(webhooksBox!.y).toBeGreaterThan(usersBox!.y + usersBox!.height - 1);

      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(pageErrors).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'expands new-subscription to its description and Subscription request body',
    async () => {
      const newSubscription = page.locator('.swagger-ui .webhooks .opblock-post').first();
      await newSubscription.locator('.opblock-summary').click();
      const body = newSubscription.locator('.opblock-body');
      // Swagger UI renders the expanded operation in steps: wait for each part, not just the
      // container, or a busy machine reads it half-drawn.
      const description =
        "When a new user subscribes to your service we'll send you a POST request";
      await body.getByText(description, { exact: false }).first().waitFor();
      await body.locator('.opblock-section-request-body').waitFor();
      await body.getByText('webhook-signature', { exact: false }).first().waitFor();
      await expect(body.textContent()).resolves.toContain(description);
      await expect(body.locator('.opblock-section-request-body').count()).resolves.toBe(1);
      await expect(body.textContent()).resolves.toContain('webhook-signature');
      expect(pageErrors).toEqual([]);
    },
    TIMEOUT,
  );
});
