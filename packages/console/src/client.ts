import { AshClient } from '@ash-ai/sdk';

const KEY = 'ash.console.apiKey';

/** The API key of this browser tab (session storage only: gone when the tab closes). */
export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}

/** An SDK client for this origin (the console is served by the server it talks to). */
export function makeClient(apiKey: string): AshClient {
  return new AshClient({ serverUrl: window.location.origin, apiKey, timeoutMs: 60_000 });
}
