// Starts Debian's headless Chromium with the flags this machine's closed network needs
// (without the background-networking ones Chromium keeps dialling out and failing).
// Playwright gives every launch a fresh, empty profile directory of its own.
import { chromium } from 'playwright-core';

// The longest any one browser step (launch, navigation, a wait for an element) may take. A
// ceiling that turns a hang into a failure, far above what a step takes on a busy machine:
// every check waits on an event, never on a clock.
export const STEP_TIMEOUT_MS = 120_000;

export async function launch() {
  return chromium.launch({
    timeout: STEP_TIMEOUT_MS,
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}
