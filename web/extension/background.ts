/**
 * The extension's service worker: records every top-level navigation as a visit (domain
 * and time) in `chrome.storage.local` unless `visitOf` says not to (incognito, paused, excluded,
 * not http(s), the node's own pages), and sends what it recorded to the paired node every 15
 * minutes and on the popup's "Send now", only once the node says the consent is valid.
 */
import { getChrome } from "./chrome_api.ts";
import { getStatus, sendVisits } from "./node_client.ts";
import { DEFAULT_STATE, type ExtensionState, MAX_STORED_VISITS, readState, visitOf } from "./state.ts";

const chrome = getChrome();
const SEND_EVERY_MINUTES = 15;

/** Every read-modify-write of the storage runs after the previous one. */
let queue: Promise<unknown> = Promise.resolve();
function serialized<T>(step: () => Promise<T>): Promise<T> {
  const next = queue.then(step, step);
  queue = next.catch(() => {});
  return next;
}

async function load(): Promise<ExtensionState> {
  return readState({ ...DEFAULT_STATE, ...await chrome.storage.local.get(null) });
}

// A tab's URL changes when a top-level navigation commits (frames never change it).
chrome.tabs.onUpdated.addListener((_tabId, change, tab) => {
  const url = change.url;
  if (!url) return;
  const at = Date.now();
  void serialized(async () => {
    const state = await load();
    const visit = visitOf({ url, incognito: tab.incognito, at }, state);
    if (!visit) return;
    const visits = [...state.visits, visit].slice(-MAX_STORED_VISITS);
    await chrome.storage.local.set({ visits });
  });
});

/** Sends what is recorded (see `sendVisits`); removes exactly what the node stored. */
function sendNow() {
  return serialized(async () => {
    const state = await load();
    const result = await sendVisits(state.nodeUrl, state.token, state.visits, async (count) => {
      const now = await load();
      await chrome.storage.local.set({ visits: now.visits.slice(count) });
    });
    await chrome.storage.local.set({ lastSend: { at: Date.now(), ...result } });
    return result;
  });
}

chrome.alarms.create("send", { periodInMinutes: SEND_EVERY_MINUTES });
chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === "send") void sendNow();
});

chrome.runtime.onMessage.addListener((message, _sender, respond) => {
  const type = (message as { type?: string })?.type;
  if (type === "send") {
    sendNow().then(respond, (err) => respond({ sent: 0, message: String(err?.message ?? err) }));
    return true;
  }
  if (type === "status") {
    load().then((s) => getStatus(s.nodeUrl, s.token)).then(respond);
    return true;
  }
});
