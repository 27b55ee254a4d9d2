/**
 * The extension's calls to its node: pairing, the consent status, and sending visits. Nothing is
 * sent before the node says a browsing consent is valid; sent visits are removed only once the node
 * answered that it stored them.
 */
import { type BrowsingVisit, MAX_VISITS_PER_SEND } from "../../protocol/browsing.ts";

export interface NodeStatus {
  paired: boolean;
  consent: boolean;
  /** Why the node could not be asked, when it could not. */
  error?: string;
}

async function errorOf(response: Response): Promise<string> {
  const body = await response.json().catch(() => null);
  return body?.error?.message ?? `The node answered ${response.status}`;
}

/** A node URL as typed, cut to its origin; null when it is not a loopback http URL. */
export function normalizeNodeUrl(typed: string): string | null {
  try {
    const url = new URL(typed.trim());
    if (url.protocol !== "http:" || !["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) return null;
    return url.origin;
  } catch {
    return null;
  }
}

/** Trades a pairing code for the extension's token. */
export async function pairWithNode(nodeUrl: string, code: string, fetcher = fetch): Promise<string> {
  const response = await fetcher(`${nodeUrl}/api/v1/extension/pair`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code }),
  });
  if (response.status !== 201) throw new Error(await errorOf(response));
  return (await response.json()).token;
}

/** What the node says of this extension now. */
export async function getStatus(
  nodeUrl: string | null,
  token: string | null,
  fetcher = fetch,
): Promise<NodeStatus> {
  if (!nodeUrl || !token) return { paired: false, consent: false };
  try {
    const response = await fetcher(`${nodeUrl}/api/v1/extension/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (response.status === 401) return { paired: false, consent: false, error: await errorOf(response) };
    if (!response.ok) return { paired: true, consent: false, error: await errorOf(response) };
    const body = await response.json();
    return { paired: true, consent: body.consent === true };
  } catch (err) {
    return { paired: true, consent: false, error: `The node cannot be reached: ${(err as Error).message}` };
  }
}

/** The outcome of one send. */
export interface SendResult {
  /** Visits the node stored (to be removed from the extension). */
  sent: number;
  message: string;
}

/**
 * Asks the status first; only when the consent is valid, posts the oldest visits in batches of at
 * most 5000. `onStored(n)` is called after each batch the node stored, to remove those `n` visits.
 */
export async function sendVisits(
  nodeUrl: string | null,
  token: string | null,
  visits: readonly BrowsingVisit[],
  onStored: (count: number) => Promise<void>,
  fetcher = fetch,
): Promise<SendResult> {
  const status = await getStatus(nodeUrl, token, fetcher);
  if (!status.paired) return { sent: 0, message: status.error ?? "Not paired with a node: open the options" };
  if (!status.consent) {
    return {
      sent: 0,
      message: status.error ?? "Nothing sent: the node holds no valid consent for the browsing log",
    };
  }
  let sent = 0;
  while (sent < visits.length) {
    const batch = visits.slice(sent, sent + MAX_VISITS_PER_SEND);
    const response = await fetcher(`${nodeUrl}/api/v1/extension/visits`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(batch),
    });
    if (response.status !== 201) return { sent, message: `Stopped: ${await errorOf(response)}` };
    await response.body?.cancel();
    await onStored(batch.length);
    sent += batch.length;
  }
  return { sent, message: sent === 0 ? "Nothing to send" : `Sent ${sent} visits to the node` };
}
