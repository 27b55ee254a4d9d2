/**
 * Shared helpers for browser tests: a headless Debian Chromium driven by
 * playwright-core with a throwaway profile, and a polling `waitFor()` so
 * tests await conditions instead of sleeping.
 *
 * ```ts
 * const browser = await launchBrowser();
 * try {
 *   const page = await browser.newPage();
 *   await page.goto(`${node.url}/network`);
 * } finally {
 *   await browser.close();
 * }
 * ```
 */
import { type Browser, chromium, type Page } from "playwright-core";
import { findChromium } from "../../scripts/chromium.ts";

/** Launches headless Chromium with a fresh temporary profile; close it in `finally`. */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) {
    throw new Error(
      "Cannot launch Chromium: not installed (run `deno task test`, which installs it when root)",
    );
  }
  return await chromium.launch({
    executablePath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
    ],
  });
}

/**
 * Logs `page` in to `node` the way its owner does: through a one-time login
 * link (which sets the session cookie and redirects to `/`).
 */
export async function logIn(page: Page, node: { createLoginLink(): string }): Promise<void> {
  const response = await page.goto(node.createLoginLink());
  if (!response?.ok() || new URL(page.url()).pathname !== "/") {
    throw new Error(`Cannot log in: the login link answered ${response?.status()} at ${page.url()}`);
  }
}

export interface WaitForOptions {
  /** @default 10_000 */
  timeoutMs?: number;
  /** @default 100 */
  intervalMs?: number;
  /** Says what was awaited, for the timeout error. */
  what?: string;
}

/**
 * Calls `check` until it returns a truthy value (so a count of 0 means "not
 * yet") and returns that value. Throws when `timeoutMs` passes first, with
 * the last error `check` threw as the cause.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 10_000, intervalMs = 100, what = "condition" } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
