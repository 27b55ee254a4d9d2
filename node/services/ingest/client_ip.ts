/**
 * The client's IP for rate limiting and the visitor hash. The socket's peer
 * address is the client unless it is one of the configured `trustedProxies`
 * (exact IPs or IPv4 CIDR ranges); only then is `X-Forwarded-For` read, from
 * the right, skipping trusted proxies. A client cannot pick its own IP.
 *
 * ```ts
 * resolveClientIp("10.0.0.2", "203.0.113.9, 10.0.0.2", ["10.0.0.0/8"]); // "203.0.113.9"
 * resolveClientIp("198.51.100.7", "203.0.113.9", []); // "198.51.100.7"
 * ```
 */

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-f:]*:[0-9a-f:.]*$/i;

/** Whether `entry` is an IP address or an IPv4 CIDR range (`10.0.0.0/8`). */
export function isProxyAddress(entry: unknown): entry is string {
  if (typeof entry !== "string") return false;
  const [ip, bits, ...rest] = entry.split("/");
  if (rest.length > 0) return false;
  if (bits !== undefined) return IPV4.test(ip) && /^\d{1,2}$/.test(bits) && Number(bits) <= 32;
  return IPV4.test(ip) || (IPV6.test(ip) && ip.length <= 45);
}

export function resolveClientIp(
  remoteAddress: string,
  forwardedFor: string | undefined,
  trusted: string[],
): string {
  const remote = normalize(remoteAddress);
  if (!forwardedFor || trusted.length === 0 || !isTrusted(remote, trusted)) return remote;
  const hops = forwardedFor.split(",").map((s) => normalize(s.trim())).filter((s) => s !== "");
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!isProxyAddress(hops[i])) return remote;
    if (!isTrusted(hops[i], trusted)) return hops[i];
  }
  return hops[0] ?? remote;
}

function normalize(ip: string): string {
  const lower = ip.toLowerCase();
  return lower.startsWith("::ffff:") && IPV4.test(lower.slice(7)) ? lower.slice(7) : lower;
}

function isTrusted(ip: string, trusted: string[]): boolean {
  for (const entry of trusted) {
    const [range, bits] = entry.toLowerCase().split("/");
    if (bits === undefined) {
      if (normalize(range) === ip) return true;
    } else if (IPV4.test(ip)) {
      const n = Number(bits);
      const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
      if (((toInt(ip) & mask) >>> 0) === ((toInt(range) & mask) >>> 0)) return true;
    }
  }
  return false;
}

function toInt(ip: string): number {
  return ip.split(".").reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}
