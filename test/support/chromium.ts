import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

// Debian's chromium, never a browser downloaded by a test tool (the machine has no route
// to those downloads, and CI installs this one with apt).
export const CHROMIUM = '/usr/bin/chromium';

/** Starts Debian's headless chromium; says how to install it when it is missing. */
export async function launchChromium(timeout: number): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}. The browser tests need Debian's chromium: ` +
        'run `apt-get install chromium` (as root; `.ci/run` does it), then run the tests again.',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // The machine's network is closed: without the background-networking flags Chromium
    // keeps trying (and failing) to reach Google's hosts.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout,
  });
}
