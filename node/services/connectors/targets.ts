/**
 * Where deliveries may go. A delivery is data the node sends or writes on the
 * owner's behalf, so a target someone else chose must not reach what only the
 * node can reach:
 *
 * - a webhook's host is resolved and refused when any address it resolves to
 *   is not a public unicast address (loopback, RFC 1918 private, CGNAT,
 *   link-local, unique local, multicast, unspecified, reserved, or an IPv6
 *   form embedding one of those), unless the host name or a range holding the
 *   address is in the webhook allow-list. The check runs when the delivery is
 *   created and again before every request, and the request connects to the
 *   very addresses that were checked (no second lookup for DNS to rebind);
 * - a directory is resolved (`..`, symlinks of every existing ancestor) and
 *   refused unless it lies under the node's deliveries directory or a
 *   directory of the allow-list.
 *
 * ```ts
 * const policy = { deliveriesDir: "/home/me/.kosmos/deliveries", webhookAllow: ["10.0.0.0/8"], directoryAllow: [] };
 * const addresses = await checkWebhookTarget(new URL("https://example.com/hook"), policy); // ["93.184.215.14"]
 * const dir = await checkDirectoryTarget("/home/me/.kosmos/deliveries/trips", policy);
 * ```
 */
import { lookup } from "node:dns/promises";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { KosmosError } from "../../errors.ts";

/** A delivery target is not allowed (or cannot be checked). Routes answer 400. */
export class DeliveryTargetError extends KosmosError {
  override name = "DeliveryTargetError";
}

/** Resolves a host name to its addresses (IPv4 dotted quads, IPv6 text). */
export type HostLookup = (hostname: string) => Promise<string[]>;

export interface DeliveryPolicy {
  /** Directory deliveries may always write under this directory. @default undefined: only `directoryAllow` */
  deliveriesDir?: string;
  /** Absolute directories deliveries may also write under. @default [] */
  directoryAllow?: readonly string[];
  /** Host names, IP addresses and CIDR ranges webhooks may reach although not public. @default [] */
  webhookAllow?: readonly string[];
  /** @default the system resolver (`getaddrinfo`, like the rest of the process) */
  lookup?: HostLookup;
}

/** Resolves with the system resolver, every address of every family. */
export const systemLookup: HostLookup = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/** An IP address as a 128-bit number; IPv4 addresses as IPv4-mapped IPv6 (`::ffff:a.b.c.d`). */
type Ip = bigint;

const V4_MAPPED = 0xffffn << 32n;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Parses an IPv4 or IPv6 address (brackets, a zone and an embedded IPv4 tail allowed); `undefined` if it is none. */
export function parseIp(text: string): Ip | undefined {
  let s = text.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  s = s.replace(/%[\w.-]+$/, "");
  if (IPV4.test(s)) return V4_MAPPED | ipv4ToNumber(s);
  if (!/^[0-9a-f:.]+$/i.test(s) || !s.includes(":") || s.length > 45) return undefined;
  const lastColon = s.lastIndexOf(":");
  const v4 = s.slice(lastColon + 1);
  if (v4.includes(".")) {
    // An embedded IPv4 tail (`::ffff:127.0.0.1`) is the last two groups.
    if (!IPV4.test(v4)) return undefined;
    const n = ipv4ToNumber(v4);
    s = `${s.slice(0, lastColon + 1)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === "" ? [] : part.split(":"));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const width = head.length + rest.length;
  if ([...head, ...rest].some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  if (halves.length === 1 ? width !== 8 : width > 7) return undefined;
  const words = [
    ...head.map((g) => BigInt(`0x${g}`)),
    ...Array<bigint>(8 - width).fill(0n),
    ...rest.map((g) => BigInt(`0x${g}`)),
  ];
  return words.reduce((acc, w) => (acc << 16n) | w, 0n);
}

function ipv4ToNumber(s: string): bigint {
  return s.split(".").reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

/** A range of addresses: its first address and prefix length, over 128 bits. */
interface Range {
  base: Ip;
  bits: number;
}

/** Parses `ip/bits` (IPv4 bits count within the IPv4 space) or a single address. */
export function parseCidr(text: string): Range | undefined {
  const [ip, bits, ...extra] = text.trim().split("/");
  if (extra.length > 0) return undefined;
  const base = parseIp(ip);
  if (base === undefined) return undefined;
  const v4 = IPV4.test(ip.trim());
  const max = v4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return undefined;
  const n = bits === undefined ? max : Number(bits);
  if (n > max) return undefined;
  const total = v4 ? 96 + n : n;
  return { base: mask(base, total), bits: total };
}

function mask(ip: Ip, bits: number): Ip {
  if (bits === 0) return 0n;
  const keep = ((1n << BigInt(bits)) - 1n) << BigInt(128 - bits);
  return ip & keep;
}

function inRange(ip: Ip, range: Range): boolean {
  return mask(ip, range.bits) === range.base;
}

function ranges(list: string[]): Range[] {
  return list.map((r) => parseCidr(r)!);
}

/** IPv4 ranges that are not public unicast, as IPv4-mapped ranges. */
const NOT_PUBLIC_V4 = ranges([
  "0.0.0.0/8", // "this network", unspecified
  "10.0.0.0/8", // RFC 1918
  "100.64.0.0/10", // CGNAT (RFC 6598)
  "127.0.0.0/8", // loopback
  "169.254.0.0/16", // link-local, cloud metadata services
  "172.16.0.0/12", // RFC 1918
  "192.0.0.0/24", // IETF protocol assignments
  "192.168.0.0/16", // RFC 1918
  "198.18.0.0/15", // benchmarking
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, broadcast
]);

/** IPv6 ranges that are not public unicast. */
const NOT_PUBLIC_V6 = ranges([
  "::/128", // unspecified
  "::1/128", // loopback
  "100::/64", // discard
  "fc00::/7", // unique local
  "fe80::/10", // link-local
  "fec0::/10", // site-local (deprecated)
  "ff00::/8", // multicast
]);

/** IPv6 ranges that carry an IPv4 address in their low 32 bits; the IPv4 address decides. */
const EMBEDS_V4_LOW = ranges([
  "::/96", // IPv4-compatible (deprecated)
  "::ffff:0:0/96", // IPv4-mapped
  "::ffff:0:0:0/96", // IPv4-translated
  "64:ff9b::/96", // NAT64
  "64:ff9b:1::/48", // local-use NAT64
]);
const SIX_TO_FOUR = parseCidr("2002::/16")!;

/** Whether `ip` is a public unicast address (see the module doc for what is not). */
export function isPublicAddress(ip: Ip): boolean {
  if (inRange(ip, EMBEDS_V4_LOW[1])) return !NOT_PUBLIC_V4.some((r) => inRange(ip, r));
  if (NOT_PUBLIC_V6.some((r) => inRange(ip, r))) return false;
  if (EMBEDS_V4_LOW.some((r) => inRange(ip, r))) return isPublicAddress(V4_MAPPED | (ip & 0xffffffffn));
  if (inRange(ip, SIX_TO_FOUR)) return isPublicAddress(V4_MAPPED | ((ip >> 80n) & 0xffffffffn));
  return true;
}

/** Whether `entry` is a valid webhook allow-list entry: a host name, an IP address or a CIDR range. */
export function isWebhookAllowEntry(entry: unknown): entry is string {
  if (typeof entry !== "string" || entry.length === 0 || entry.length > 253) return false;
  if (parseCidr(entry) !== undefined) return true;
  return /^(?=.*[a-z])[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})*\.?$/i.test(entry) && !entry.includes("/");
}

/** A host name as compared with allow-list entries: lower case, no trailing dot, no brackets. */
function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, "").replace(/^\[(.*)\]$/, "$1");
}

/**
 * Checks a webhook URL's host and resolves with the addresses to connect to:
 * every one public, or allowed. Throws {@link DeliveryTargetError} naming the
 * refused address, or when the host does not resolve.
 */
export async function checkWebhookTarget(url: URL, policy: DeliveryPolicy): Promise<string[]> {
  const host = normalizeHost(url.hostname);
  const allow = policy.webhookAllow ?? [];
  const allowedHost = allow.some((entry) => parseCidr(entry) === undefined && normalizeHost(entry) === host);
  const literal = parseIp(host);
  let addresses: string[];
  if (literal !== undefined) addresses = [host];
  else {
    try {
      addresses = await (policy.lookup ?? systemLookup)(host);
    } catch (cause) {
      throw new DeliveryTargetError(
        `Cannot deliver to ${url.protocol}//${url.host}: the host does not resolve (${
          (cause as Error).message ?? cause
        })`,
        { cause, details: { host } },
      );
    }
    if (addresses.length === 0) {
      throw new DeliveryTargetError(
        `Cannot deliver to ${url.protocol}//${url.host}: the host has no address`,
      );
    }
  }
  if (allowedHost) return addresses;
  const allowed = allow.map((entry) => parseCidr(entry)).filter((r) => r !== undefined);
  for (const address of addresses) {
    const ip = parseIp(address);
    if (ip === undefined) {
      throw new DeliveryTargetError(
        `Cannot deliver to ${url.protocol}//${url.host}: it resolved to "${address}"`,
      );
    }
    if (!isPublicAddress(ip) && !allowed.some((r) => inRange(ip, r))) {
      throw new DeliveryTargetError(
        `Cannot deliver to ${url.protocol}//${url.host}: ${address} is a loopback, private, link-local or ` +
          `otherwise non-public address; add the host or its range to deliveryWebhookAllow to allow it`,
        { details: { host, address } },
      );
    }
  }
  return addresses;
}

/**
 * Resolves `dir` (`..` and every symlink among its existing ancestors) and
 * checks that it lies under the deliveries directory or an allowed directory.
 * Resolves with the real path to write to; throws {@link DeliveryTargetError}.
 */
export async function checkDirectoryTarget(dir: string, policy: DeliveryPolicy): Promise<string> {
  if (!isAbsolute(dir)) {
    throw new TypeError(`Cannot deliver to directory "${dir.slice(0, 200)}": the path must be absolute`);
  }
  const real = await realpathOfPath(resolve(dir));
  const roots = [
    ...(policy.deliveriesDir === undefined ? [] : [policy.deliveriesDir]),
    ...(policy.directoryAllow ?? []),
  ];
  for (const root of roots) {
    const realRoot = await realpathOfPath(resolve(root));
    if (real === realRoot || real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep)) return real;
  }
  throw new DeliveryTargetError(
    `Cannot deliver to directory "${dir.slice(0, 200)}": it is not under ${
      policy.deliveriesDir === undefined ? "an allowed directory" : `"${policy.deliveriesDir}"`
    }; add a parent directory to deliveryDirectoryAllow to allow it`,
    { details: { dir: dir.slice(0, 200), resolved: real } },
  );
}

/** The real path of `path`: of its longest existing ancestor, joined with the parts that do not exist yet. */
async function realpathOfPath(path: string): Promise<string> {
  const missing: string[] = [];
  let current = path;
  for (;;) {
    try {
      const real = await Deno.realPath(current);
      return missing.length === 0 ? real : join(real, ...missing.reverse());
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw new DeliveryTargetError(
          `Cannot check directory "${path.slice(0, 200)}": ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      const parent = dirname(current);
      if (parent === current) return path;
      missing.push(current.slice(parent.length).replace(/^[/\\]+/, ""));
      current = parent;
    }
  }
}

/**
 * Where a stream subscription's readings go, written as one string (`targets` of a subscription):
 *
 * - an absolute path `/srv/readings` (or `file:///srv/readings`): NDJSON appended per epoch file;
 * - `http://…`, `https://…`: a webhook, one `POST` of JSON per batch;
 * - `mqtt://[user:pass@]host:port/topic` (or `mqtts://`): each reading published as JSON, QoS 1, on `topic`;
 * - `postgres://user[:pass]@host:port/db?table=name` (or `postgresql://`, `&sslmode=require`): rows appended
 *   to `table` (created from the stream's schema).
 *
 * Hosts of webhook, MQTT and PostgreSQL targets pass the same check as webhooks ({@link checkWebhookTarget}:
 * public, or allowed by `deliveryWebhookAllow`); directories the directory check.
 */
export type ReadingsTarget =
  | { connector: "directory"; dir: string }
  | { connector: "webhook"; url: string }
  | { connector: "mqtt"; url: string; topic: string }
  | { connector: "postgres"; url: string; table: string };

/** A table name PostgreSQL takes unquoted: `readings`, `sensors.readings`. */
const PG_TABLE = /^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/;

/** Parses a readings target string; throws a `TypeError` saying what is wrong (never echoing a password). */
export function parseReadingsTarget(text: string): ReadingsTarget {
  if (typeof text !== "string" || text.length === 0 || text.length > 2048) {
    throw new TypeError(
      "A target must be a path, an http(s)://, mqtt:// or postgres:// URL of at most 2048 characters",
    );
  }
  if (text.startsWith("/")) return { connector: "directory", dir: text };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(
      `Target "${text.slice(0, 40).replace(/\/\/[^@/]*@/, "//…@")}" is neither an absolute path nor a URL`,
    );
  }
  const shown = `${url.protocol}//${url.host}${url.pathname}`.slice(0, 200);
  switch (url.protocol) {
    case "file:":
      if (url.host !== "") throw new TypeError(`Target ${shown}: a file URL names no host (file:///path)`);
      return { connector: "directory", dir: decodeURIComponent(url.pathname) };
    case "http:":
    case "https:":
      return { connector: "webhook", url: text };
    case "mqtt:":
    case "mqtts:": {
      if (!url.hostname) {
        throw new TypeError(`Target ${shown}: name the broker's host (mqtt://host:1883/topic)`);
      }
      const topic = decodeURIComponent(url.pathname.replace(/^\//, ""));
      if (
        topic === "" || text.includes("#") || url.search !== "" || topic.length > 256 || /[+#\0]/.test(topic)
      ) {
        throw new TypeError(
          `Target ${shown}: the path must be the topic to publish on (mqtt://host:1883/my/topic), without + or #`,
        );
      }
      return { connector: "mqtt", url: text, topic };
    }
    case "postgres:":
    case "postgresql:": {
      if (!url.hostname) {
        throw new TypeError(`Target ${shown}: name the server's host (postgres://user@host/db)`);
      }
      const table = url.searchParams.get("table") ?? "";
      if (!PG_TABLE.test(table)) {
        throw new TypeError(
          `Target ${shown}: add ?table=name (lower-case letters, digits and _, optionally schema.name)`,
        );
      }
      for (const key of url.searchParams.keys()) {
        if (key !== "table" && key !== "sslmode") {
          throw new TypeError(`Target ${shown}: unknown parameter "${key.slice(0, 40)}" (table, sslmode)`);
        }
      }
      return { connector: "postgres", url: text, table };
    }
    default:
      throw new TypeError(
        `Target ${shown}: use an absolute path or an http(s)://, mqtt(s):// or postgres:// URL`,
      );
  }
}

/** A readings target as it may be shown: URLs without their password and query (the table stays). */
export function redactReadingsTarget(target: ReadingsTarget): string {
  if (target.connector === "directory") return target.dir;
  try {
    const url = new URL(target.url);
    const user = url.username ? `${url.username}@` : "";
    const table = target.connector === "postgres" ? `?table=${target.table}` : "";
    return `${url.protocol}//${user}${url.host}${url.pathname}${table}`;
  } catch {
    return "(invalid URL)";
  }
}

/** Checks a readings target against the policy (directories resolved, hosts resolved); throws {@link DeliveryTargetError}. */
export async function checkReadingsTarget(target: ReadingsTarget, policy: DeliveryPolicy): Promise<void> {
  if (target.connector === "directory") await checkDirectoryTarget(target.dir, policy);
  else await checkWebhookTarget(new URL(target.url), policy);
}
