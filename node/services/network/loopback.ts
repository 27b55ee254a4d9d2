/**
 * Loopback checks for what a node shares with peers about its chain.
 *
 * ```ts
 * isLoopbackUrl("http://127.0.0.1:8545"); // true
 * isLoopbackAddr("/ip4/127.0.0.1/tcp/4001/p2p/12D3…"); // true
 * ```
 */
import { multiaddr } from "@multiformats/multiaddr";

/** Whether `url` names a loopback host. */
export function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[(.*)\]$/, "$1");
    return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}

/** Whether a multiaddr names a loopback host. */
export function isLoopbackAddr(addr: string): boolean {
  try {
    const host = multiaddr(addr).getComponents().find((c) => c.name === "ip4" || c.name === "ip6")?.value;
    return host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host ?? "");
  } catch {
    return false;
  }
}
