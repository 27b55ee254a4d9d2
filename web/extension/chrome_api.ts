/**
 * The few extension APIs the Kosmos extension calls, typed here (no global declarations, so the
 * rest of the project is type-checked without them), and read from `globalThis.chrome` when used.
 */

export interface TabInfo {
  id?: number;
  url?: string;
  incognito: boolean;
}

export interface ChromeApi {
  storage: {
    local: {
      get(keys: string[] | null): Promise<Record<string, unknown>>;
      set(items: Record<string, unknown>): Promise<void>;
    };
    onChanged: { addListener(fn: (changes: Record<string, unknown>, area: string) => void): void };
  };
  tabs: {
    onUpdated: {
      addListener(fn: (tabId: number, change: { status?: string; url?: string }, tab: TabInfo) => void): void;
    };
  };
  alarms: {
    create(name: string, info: { periodInMinutes: number; delayInMinutes?: number }): Promise<void> | void;
    onAlarm: { addListener(fn: (alarm: { name: string }) => void): void };
  };
  runtime: {
    sendMessage<T>(message: unknown): Promise<T>;
    onMessage: {
      addListener(
        fn: (message: unknown, sender: unknown, respond: (answer: unknown) => void) => boolean | void,
      ): void;
    };
    openOptionsPage(): Promise<void>;
  };
}

/** The browser's extension API (only inside the extension). */
export function getChrome(): ChromeApi {
  return (globalThis as unknown as { chrome: ChromeApi }).chrome;
}
