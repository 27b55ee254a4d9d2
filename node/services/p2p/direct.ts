/**
 * Opening streams to a peer reached through a circuit relay. When a node
 * first connects to a home node through its relay, DCUtR upgrades that
 * connection to a direct one within moments where it can, and then closes the
 * relayed connection, cutting any stream open on it (a quote, a chunk fetch).
 * So before the first stream on a new relayed connection, `preferDirect` waits
 * up to `wait` ms for a direct connection to the same peer to open; streams
 * then go over the direct one. Where hole punching fails, the stream goes
 * through the relay after that wait, which is paid once per relayed connection.
 *
 * ```ts
 * await preferDirect(libp2p, peer, { signal });
 * const stream = await libp2p.dialProtocol(peer, protocol, { signal });
 * ```
 */
import type { Connection, Libp2p, PeerId } from "@libp2p/interface";
import { isRelayAddress } from "./addresses.ts";

/** How long to wait for DCUtR after a relayed connection opens, in ms. */
export const DIRECT_UPGRADE_WAIT = 5_000;

/** The wait for each relayed connection, shared by every stream opened while it lasts. */
const waits = new WeakMap<Connection, Promise<void>>();

const isDirect = (c: Connection) => c.status === "open" && !isRelayAddress(c.remoteAddr);

/** Connects to `peer`; on a new relayed connection, waits for DCUtR's direct one (or `wait` ms). */
export async function preferDirect(
  node: Libp2p,
  peer: PeerId,
  options: { signal?: AbortSignal; wait?: number } = {},
): Promise<void> {
  const open = node.getConnections(peer).filter((c) => c.status === "open");
  if (open.some(isDirect)) return;
  const relayed = open[0] ?? await node.dial(peer, { signal: options.signal });
  if (isDirect(relayed)) return;
  let wait = waits.get(relayed);
  if (!wait) {
    wait = waitForDirect(node, peer, options.wait ?? DIRECT_UPGRADE_WAIT);
    waits.set(relayed, wait);
  }
  const signal = options.signal;
  if (!signal) return await wait;
  signal.throwIfAborted();
  await new Promise<void>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    wait.then(() => {
      signal.removeEventListener("abort", abort);
      resolve();
    });
  });
}

/** Resolves when a direct connection to `peer` is open, or after `ms`. */
function waitForDirect(node: Libp2p, peer: PeerId, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      node.removeEventListener("connection:open", onOpen);
      resolve();
    };
    const onOpen = (evt: CustomEvent<Connection>) => {
      if (evt.detail.remotePeer.equals(peer) && isDirect(evt.detail)) done();
    };
    const timer = setTimeout(done, ms);
    node.addEventListener("connection:open", onOpen);
    // it may have opened between the dial and here
    if (node.getConnections(peer).some(isDirect)) done();
  });
}
