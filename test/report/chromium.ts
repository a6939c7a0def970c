/**
 * playwright-core driving Debian's chromium. Loaded through require with the
 * few calls the tests use typed here: playwright's own typings need the DOM
 * library, which the project's Node-only type check does not include.
 */

import { createRequire } from 'node:module';

export interface Locator {
  count(): Promise<number>;
  getAttribute(name: string): Promise<string | null>;
  textContent(): Promise<string | null>;
  innerText(): Promise<string>;
  isVisible(): Promise<boolean>;
  /** Runs in the page: the elements are DOM elements there. */
  evaluateAll<R>(fn: (elements: any[]) => R): Promise<R>;
}

export interface Page {
  on(event: 'console', handler: (message: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', handler: (error: Error) => void): void;
  on(event: 'request', handler: (request: { url(): string }) => void): void;
  goto(url: string, options?: { waitUntil?: 'load' }): Promise<unknown>;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
  locator(selector: string): Locator;
  selectOption(selector: string, value: string): Promise<unknown>;
  close(): Promise<void>;
}

export interface Browser {
  newPage(options?: { viewport?: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}

export function launchChromium(executablePath: string): Promise<Browser> {
  const { chromium } = createRequire(__filename)('playwright-core') as {
    chromium: { launch(options: Record<string, unknown>): Promise<Browser> };
  };
  // --no-sandbox: the suite runs as root on CI machines, where chromium's sandbox refuses to start.
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
}
