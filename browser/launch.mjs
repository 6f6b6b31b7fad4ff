// Starts Debian's headless Chromium with the flags this machine's closed network needs
// (without the background-networking ones Chromium keeps dialling out and failing).
// Playwright gives every launch a fresh, empty profile directory of its own.
import { chromium } from 'playwright-core';

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}
