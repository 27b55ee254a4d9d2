/**
 * The client's IP for rate limiting and the visitor hash. The socket's peer
 * address is the client unless it is one of the configured `trustedProxies`
 * (exact IPs or IPv4 CIDR ranges); only then is `X-Forwarded-For` read, from
 * the right, skipping trusted proxies. A client cannot pick its own IP.
 *
 * ```ts
 * resolveClientIp("10.0.0.2", "203.0.113.9, 10.0.0.2", ["10.0.0.0/8"]); // "203.0.113.9"
 * resolveClientIp("198.51.100.7", "203.0.113.9", []); // "198.51.100.7"
 * rateLimitKey("2001:db8:1:2:a:b:c:d"); // "2001:db8:1:2::/64"
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

/**
 * The key one client's events are rate-limited under: an IPv4 address as is
 * (a /32), an IPv6 address as its /64 (`2001:db8:1:2::/64`), since one
 * subscriber is routinely given a whole /64 and can rotate through it; an
 * IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, `::ffff:c000:201`) as the IPv4
 * address it maps. Anything else is returned lowercased.
 */
export function rateLimitKey(ip: string): string {
  const lower = normalize(ip.trim()).replace(/%.*$/, "");
  if (IPV4.test(lower)) return lower;
  const groups = expandIpv6(lower);
  if (!groups) return lower;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join(".");
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail allowed), or undefined. */
function expandIpv6(ip: string): number[] | undefined {
  if (!IPV6.test(ip) || ip.length > 45) return undefined;
  let text = ip;
  const tail = text.match(/:(\d+\.\d+\.\d+\.\d+)$/);
  if (tail) {
    if (!IPV4.test(tail[1])) return undefined;
    const n = toInt(tail[1]);
    text = `${text.slice(0, -tail[1].length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string) => part === "" ? [] : part.split(":");
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return all.map((g) => parseInt(g, 16));
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
