/**
 * Which addresses a node tells others about, and how reachable it is.
 *
 * - {@link createDhtAddressFilter}: the DHT's peer-info mapper. Public
 *   addresses (and relay addresses through a public relay) are always kept, so
 *   nodes on different hosts of the internet find each other. Private (LAN)
 *   addresses are kept while this node has a private address itself, loopback
 *   ones while it has a loopback address: a LAN or a one-host test network
 *   still forms its own DHT, while a node on a public host does not hand out
 *   other people's LAN or loopback addresses. Link-local addresses are dropped.
 * - {@link describeReachability}: public, private or unknown, from the
 *   address manager's view of the node's addresses (AutoNAT confirms them).
 * - {@link checkAnnounceAddress}, {@link normalizePublicUrl}: the config's
 *   `announce` and `publicUrl` checks.
 *
 * ```ts
 * const filter = createDhtAddressFilter(() => node.getMultiaddrs());
 * kadDHT({ peerInfoMapper: filter });
 * describeReachability(node.components.addressManager.getAddressesWithMetadata());
 * ```
 */
import { isLinkLocal, isLoopback, isPrivate } from "@libp2p/utils";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import type { PeerInfo } from "@libp2p/interface";

/** What kind of network an address belongs to. */
export type AddressScope = "public" | "private" | "loopback" | "link-local";

/** The scope of a multiaddr; a relay address has the scope of its relay. */
export function addressScope(ma: Multiaddr): AddressScope {
  if (isLoopback(ma)) return "loopback";
  if (isLinkLocal(ma)) return "link-local";
  if (isPrivate(ma)) return "private";
  return "public";
}

/** True for `/p2p-circuit` addresses (reached through a relay). */
export function isRelayAddress(ma: Multiaddr): boolean {
  return ma.getComponents().some((c) => c.name === "p2p-circuit");
}

/**
 * The DHT's peer-info mapper: keeps public addresses, and private or loopback
 * ones only while this node has an address of that scope itself.
 * @param ownAddresses this node's current addresses (read at most once a second)
 */
export function createDhtAddressFilter(ownAddresses: () => Multiaddr[]): (peer: PeerInfo) => PeerInfo {
  let scopes = new Set<AddressScope>();
  let readAt = -Infinity;
  const ownScopes = () => {
    const now = Date.now();
    if (now - readAt > 1000) {
      readAt = now;
      try {
        scopes = new Set(ownAddresses().map(addressScope));
      } catch { /* not started yet: keep the last answer */ }
    }
    return scopes;
  };
  return (peer) => {
    const own = ownScopes();
    return {
      ...peer,
      multiaddrs: peer.multiaddrs.filter((ma) => {
        const scope = addressScope(ma);
        return scope === "public" || (scope !== "link-local" && own.has(scope));
      }),
    };
  };
}

/** An address as the address manager keeps it (`getAddressesWithMetadata()`). */
export interface AddressMetadata {
  multiaddr: Multiaddr;
  verified: boolean;
  type: string;
  expires: number;
}

/**
 * - `public`: some public, direct address is confirmed (by AutoNAT, or
 *   given with `--announce`): any node can dial this one.
 * - `private`: no public direct address, or AutoNAT found them undialable:
 *   others reach this node only through a relay or from its own network.
 * - `unknown`: public addresses that nobody has confirmed yet.
 */
export type Reachability = "public" | "private" | "unknown";

export interface ReachabilityView {
  reachability: Reachability;
  /** Public direct addresses others confirmed (or that were announced). */
  publicAddresses: string[];
  /** `/p2p-circuit` addresses on relays that hold a reservation for this node. */
  relayAddresses: string[];
}

/** How reachable the node is, from its address manager's metadata. */
export function describeReachability(
  addresses: AddressMetadata[],
  options: { now?: number } = {},
): ReachabilityView {
  const now = options.now ?? Date.now();
  const relayAddresses: string[] = [];
  const publicAddresses: string[] = [];
  let pending = false;
  for (const addr of addresses) {
    if (isRelayAddress(addr.multiaddr)) {
      if (addr.verified) relayAddresses.push(addr.multiaddr.toString());
      continue;
    }
    if (addressScope(addr.multiaddr) !== "public") continue;
    if (addr.verified) publicAddresses.push(addr.multiaddr.toString());
    // an unconfirmed public address of the node itself (not a guess from what a peer observed)
    // is still being checked; an observed one that nobody confirmed says nothing either way
    else if (addr.type !== "observed" || addr.expires > now) pending = true;
  }
  const reachability = publicAddresses.length > 0 ? "public" : pending ? "unknown" : "private";
  return { reachability, publicAddresses, relayAddresses };
}

/**
 * Checks one `--announce` multiaddr: a dialable address of this node, without
 * `/p2p/<peerId>` (libp2p appends this node's own).
 * @throws TypeError naming the problem
 */
export function checkAnnounceAddress(addr: string): void {
  let ma: Multiaddr;
  try {
    ma = multiaddr(addr);
  } catch (err) {
    throw new TypeError(`announce address "${addr}" is not a valid multiaddr: ${(err as Error).message}`);
  }
  const names = ma.getComponents().map((c) => c.name);
  if (!["ip4", "ip6", "dns", "dns4", "dns6", "dnsaddr"].includes(names[0])) {
    throw new TypeError(`announce address "${addr}" must start with /ip4, /ip6 or /dns`);
  }
  if (names.includes("p2p") && !names.includes("p2p-circuit")) {
    throw new TypeError(
      `announce address "${addr}" must not name a peer: this node's /p2p/<peerId> is added`,
    );
  }
  const host = ma.getComponents()[0].value ?? "";
  if (host === "0.0.0.0" || host === "::") {
    throw new TypeError(`announce address "${addr}" is a wildcard: announce the address others dial`);
  }
}

/**
 * The URL others reach this node's HTTP API by (`https://kosmos.example.org`,
 * optionally with a path), without a trailing slash.
 * @throws TypeError unless it is an http(s) URL without credentials, query or fragment
 */
export function normalizePublicUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`publicUrl "${value}" is not a valid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`publicUrl "${value}" must be an http:// or https:// URL`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new TypeError(`publicUrl "${value}" must not carry credentials, a query or a fragment`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}
