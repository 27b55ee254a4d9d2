/**
 * The popup: the consent status the node reports, the pause switch, the exclusions, what would be
 * shared (domain and hour of every recorded visit), and "Send now", enabled only while the node
 * says the consent is valid.
 */
import { getChrome } from "./chrome_api.ts";
import type { NodeStatus, SendResult } from "./node_client.ts";
import { normalizeExclusion, readState, summarize } from "./state.ts";

const chrome = getChrome();
const $ = (id: string) => document.getElementById(id)!;
const paused = $("paused") as HTMLInputElement;
const send = $("send") as HTMLButtonElement;

function hourOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 13).replace("T", " ") + ":00";
}

async function render(): Promise<void> {
  const state = readState(await chrome.storage.local.get(null));
  paused.checked = state.paused;
  $("count").textContent = String(state.visits.length);
  const rows = summarize(state.visits).map((line) => {
    const tr = document.createElement("tr");
    tr.dataset.domain = line.domain;
    for (const text of [line.domain, hourOf(line.hour), String(line.visits)]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  $("shared").replaceChildren(...rows);
  $("excluded").replaceChildren(...state.excluded.map((domain) => {
    const li = document.createElement("li");
    li.dataset.domain = domain;
    const remove = document.createElement("button");
    remove.textContent = "Remove";
    remove.addEventListener("click", async () => {
      const now = readState(await chrome.storage.local.get(null));
      await chrome.storage.local.set({ excluded: now.excluded.filter((d) => d !== domain) });
    });
    li.append(`${domain} `, remove);
    return li;
  }));
  $("last-send").textContent = state.lastSend
    ? `${new Date(state.lastSend.at).toLocaleString()}: ${state.lastSend.message}`
    : "";
}

async function refreshStatus(): Promise<void> {
  const status = await chrome.runtime.sendMessage<NodeStatus>({ type: "status" });
  const text = !status.paired
    ? status.error ?? "Not paired with a node yet: open Pairing."
    : status.error ?? (status.consent
      ? "Your node holds a valid consent: visits may be sent."
      : "No valid consent on your node: nothing is sent. Grant one for the browsing log on My data.");
  $("status").textContent = text;
  $("status").dataset.consent = String(status.consent);
  send.disabled = !status.consent;
}

paused.addEventListener("change", () => chrome.storage.local.set({ paused: paused.checked }));
$("exclude-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("exclude-input") as HTMLInputElement;
  const domain = normalizeExclusion(input.value);
  $("exclude-error").textContent = domain ? "" : "Type a site's name, such as example.org";
  if (!domain) return;
  const state = readState(await chrome.storage.local.get(null));
  if (!state.excluded.includes(domain)) {
    await chrome.storage.local.set({ excluded: [...state.excluded, domain] });
  }
  input.value = "";
});
send.addEventListener("click", async () => {
  send.disabled = true;
  const result = await chrome.runtime.sendMessage<SendResult>({ type: "send" });
  $("last-send").textContent = result.message;
  await refreshStatus();
});
chrome.storage.onChanged.addListener(() => void render());

await render();
await refreshStatus();
