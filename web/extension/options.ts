/** The options page: trades the node's pairing code for the extension's token and keeps both. */
import { getChrome } from "./chrome_api.ts";
import { normalizeNodeUrl, pairWithNode } from "./node_client.ts";
import { readState } from "./state.ts";

const chrome = getChrome();
const form = document.getElementById("pair-form") as HTMLFormElement;
const nodeUrlInput = document.getElementById("node-url") as HTMLInputElement;
const codeInput = document.getElementById("code") as HTMLInputElement;
const result = document.getElementById("result")!;

const state = readState(await chrome.storage.local.get(null));
if (state.nodeUrl) nodeUrlInput.value = state.nodeUrl;
if (state.token) result.textContent = `Paired with ${state.nodeUrl}.`;

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const nodeUrl = normalizeNodeUrl(nodeUrlInput.value);
  if (!nodeUrl) {
    result.textContent =
      "The node address must be http://127.0.0.1:PORT or http://localhost:PORT (your own node).";
    return;
  }
  result.textContent = "Pairing…";
  try {
    const token = await pairWithNode(nodeUrl, codeInput.value);
    await chrome.storage.local.set({ nodeUrl, token });
    codeInput.value = "";
    result.textContent = `Paired with ${nodeUrl}.`;
    result.setAttribute("data-paired", "true");
  } catch (err) {
    result.textContent = `Not paired: ${(err as Error).message}`;
  }
});
