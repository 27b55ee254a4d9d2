/**
 * Island: the live list of peers this node is connected to. Server-rendered
 * with the peers known at request time, then kept current in the browser by
 * polling `GET /api/v1/node`.
 */
import { useComputed, useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { NodeInfo } from "../../protocol/api/mod.ts";
import { shortenId } from "../format.ts";

export interface PeerListProps {
  /** Peer ids connected when the page was rendered. */
  peers: string[];
  /** @default 1500 */
  intervalMs?: number;
  /** @default "/api/v1/node" */
  endpoint?: string;
}

type Status = "snapshot" | "live" | "offline";

const statusLabel: Record<Status, string> = {
  snapshot: "Snapshot",
  live: "Live",
  offline: "Node unreachable",
};

export function PeerList({ peers: initial, intervalMs = 1500, endpoint = "/api/v1/node" }: PeerListProps) {
  const peers = useSignal<string[]>(initial);
  const status = useSignal<Status>("snapshot");
  const count = useComputed(() => peers.value.length);

  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const response = await fetch(endpoint, {
          signal: controller.signal,
          headers: { accept: "application/json" },
        });
        if (!response.ok) throw new Error(`GET ${endpoint} answered ${response.status}`);
        const info: NodeInfo = await response.json();
        if (!sameList(peers.peek(), info.peers)) peers.value = info.peers;
        status.value = "live";
      } catch (err) {
        if (controller.signal.aborted) return;
        status.value = "offline";
        console.warn("kosmos: cannot refresh peers", err);
      }
      if (!controller.signal.aborted) timer = setTimeout(poll, intervalMs);
    };
    poll();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [endpoint, intervalMs]);

  return (
    <section class="card peer-list" aria-live="polite">
      <header class="card-header">
        <h2>
          Connected peers <span class="badge" data-testid="peer-count">{count}</span>
        </h2>
        <span class={`status status-${status.value}`} data-testid="peer-status">
          <span class="status-dot" aria-hidden="true" />
          {statusLabel[status.value]}
        </span>
      </header>
      {peers.value.length === 0
        ? (
          <p class="empty">
            No peers connected. Start another node with this node's listen address as a bootstrap peer and it
            will appear here.
          </p>
        )
        : (
          <ul class="peers" data-testid="peer-list">
            {peers.value.map((peer) => (
              <li key={peer} data-peer-id={peer}>
                <span class="avatar" style={{ "--hue": hueOf(peer) }} aria-hidden="true" />
                <code title={peer}>
                  <span class="full">{peer}</span>
                  <span class="short">{shortenId(peer, 12, 6)}</span>
                </code>
              </li>
            ))}
          </ul>
        )}
    </section>
  );
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A stable colour per peer, so people can tell peers apart at a glance. */
function hueOf(id: string): number {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) >>> 0;
  return hash % 360;
}
