/**
 * A Google Analytics 4 export: the BigQuery event export (`events_YYYYMMDD`
 * tables) written as newline-delimited JSON, one event per line with
 * `event_date`, `event_timestamp` (µs), `event_name`, `user_pseudo_id`,
 * `event_params` (`ga_session_id`, `page_location`, `session_engaged`, `source`),
 * `device` (`category`, `operating_system`, `web_info.browser`), `geo.country`
 * (a country name) and `traffic_source.source`.
 *
 * Events become visits as GA4 counts sessions: one per user and
 * `ga_session_id`, on the day it starts. A visit bounced when GA4 did not call
 * it engaged and it has at most one page view; its duration is its last event
 * minus its first. Visitors are distinct `user_pseudo_id`s per day and row.
 * Page views are `page_view` events; GA4's automatic events (`session_start`,
 * `first_visit`, `user_engagement`) are no goals, every other event name is.
 */
import {
  addRow,
  type ImportDimension,
  type ImportedRow,
  ImportError,
  type ImportFile,
  MAX_IMPORT_VALUE_LENGTH,
} from "./imports.ts";
import { day } from "../../constants.ts";

const AUTOMATIC = new Set(["page_view", "session_start", "first_visit", "user_engagement"]);
const DEVICES: Record<string, string> = { desktop: "desktop", mobile: "mobile", tablet: "tablet" };
/** Most distinct sessions one import follows at once. */
const MAX_SESSIONS = 2_000_000;

interface Session {
  user: string;
  day: number;
  first: number;
  last: number;
  pages: string[];
  engaged: boolean;
  source?: string;
  device: string;
  browser: string;
  os: string;
  country?: string;
}

interface Cell {
  dim: "" | ImportDimension;
  value: string;
  day: number;
  users: Set<string>;
  row: ImportedRow;
}

let countryCodes: Map<string, string> | undefined;

/** ISO 3166-1 alpha-2 code of an English country name as GA4 writes it ("Germany" → "DE"). */
export function countryCode(name: string): string | undefined {
  if (!countryCodes) {
    countryCodes = new Map();
    const names = new Intl.DisplayNames(["en"], { type: "region" });
    for (let a = 65; a <= 90; a++) {
      for (let b = 65; b <= 90; b++) {
        const code = String.fromCharCode(a, b);
        const display = names.of(code);
        if (display && display !== code) countryCodes.set(display.toLowerCase(), code);
      }
    }
    countryCodes.set("united states of america", "US");
    countryCodes.set("czech republic", "CZ");
  }
  return countryCodes.get(name.trim().toLowerCase());
}

/** Aggregates GA4 NDJSON files; throws {@link ImportError} naming the file and line of the first bad event. */
export function readGa4Export(files: ImportFile[]): Map<string, ImportedRow> {
  const sessions = new Map<string, Session>();
  const cells = new Map<string, Cell>();
  const cell = (dim: Cell["dim"], value: string, dayNumber: number) => {
    const key = `${dayNumber}\u0000${dim}\u0000${value}`;
    let found = cells.get(key);
    if (!found) {
      const row = {
        day: dayNumber,
        dim,
        value,
        visitors: 0,
        visits: 0,
        pageviews: 0,
        bounces: 0,
        visitDuration: 0,
        events: 0,
      };
      cells.set(key, found = { dim, value, day: dayNumber, users: new Set(), row });
    }
    return found;
  };
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (const file of files) {
    let text: string;
    try {
      text = decoder.decode(file.bytes);
    } catch {
      throw new ImportError(`${file.name} is not UTF-8 text`);
    }
    let line = 0;
    for (const raw of text.split("\n")) {
      line++;
      if (raw.trim() === "") continue;
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(raw);
      } catch {
        throw new ImportError(`${file.name} line ${line} is not JSON`);
      }
      const where = `${file.name} line ${line}`;
      if (typeof event !== "object" || event === null || Array.isArray(event)) {
        throw new ImportError(`${where} is not a GA4 event object`);
      }
      const date = String(event.event_date ?? "");
      if (!/^\d{8}$/.test(date)) throw new ImportError(`${where}: "event_date" must be YYYYMMDD`);
      const ts = Number(event.event_timestamp);
      const name = event.event_name;
      const user = event.user_pseudo_id;
      if (!Number.isSafeInteger(ts) || ts < 0) {
        throw new ImportError(`${where}: "event_timestamp" must be µs`);
      }
      if (typeof name !== "string" || name === "" || name.length > 200) {
        throw new ImportError(`${where}: "event_name" must be a name`);
      }
      if (typeof user !== "string" || user === "" || user.length > 200) {
        throw new ImportError(`${where}: "user_pseudo_id" is missing`);
      }
      const dayNumber = Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}T00:00:00Z`) /
        day;
      if (!Number.isInteger(dayNumber)) throw new ImportError(`${where}: "event_date" ${date} is not a date`);
      const params = readParams(event.event_params);
      const device = (event.device ?? {}) as Record<string, unknown>;
      const web = (device.web_info ?? {}) as Record<string, unknown>;
      const sessionKey = `${user}\u0000${params.ga_session_id ?? `day-${dayNumber}`}`;
      let session = sessions.get(sessionKey);
      if (!session) {
        if (sessions.size >= MAX_SESSIONS) {
          throw new ImportError(`The export has more than ${MAX_SESSIONS} sessions`);
        }
        const country = typeof (event.geo as Record<string, unknown> | undefined)?.country === "string"
          ? countryCode((event.geo as Record<string, string>).country)
          : undefined;
        session = {
          user,
          day: dayNumber,
          first: ts,
          last: ts,
          pages: [],
          engaged: false,
          device: DEVICES[String(device.category ?? "").toLowerCase()] ?? "other",
          browser: shortText(web.browser) || "(not set)",
          os: shortText(device.operating_system) || "(not set)",
          country,
        };
        sessions.set(sessionKey, session);
      }
      session.first = Math.min(session.first, ts);
      session.last = Math.max(session.last, ts);
      if (params.session_engaged === "1" || params.session_engaged === 1) session.engaged = true;
      const source = params.source ??
        shortText((event.traffic_source as Record<string, unknown> | undefined)?.source);
      if (!session.source && source && source !== "(direct)") session.source = String(source).slice(0, 200);
      const total = cell("", "", dayNumber);
      if (name === "page_view") {
        const page = pathOf(params.page_location);
        session.pages.push(page);
        total.row.pageviews++;
        total.row.events++;
        const pageCell = cell("event:page", page, dayNumber);
        pageCell.row.pageviews++;
        pageCell.users.add(user);
      } else if (!AUTOMATIC.has(name)) {
        const goal = cell("event:goal", name, dayNumber);
        goal.row.events++;
        total.row.events++;
        goal.users.add(user);
      }
    }
  }
  if (sessions.size === 0) throw new ImportError("The export has no GA4 events");
  for (const s of sessions.values()) {
    const duration = Math.round((s.last - s.first) / 1_000_000);
    const bounced = !s.engaged && s.pages.length <= 1 ? 1 : 0;
    const visit = (dim: Cell["dim"], value: string | undefined) => {
      if (value === undefined) return;
      const c = cell(dim, value.slice(0, MAX_IMPORT_VALUE_LENGTH), s.day);
      c.users.add(s.user);
      c.row.visits++;
      c.row.bounces += bounced;
      c.row.visitDuration += duration;
      if (dim !== "") c.row.pageviews += s.pages.length;
    };
    visit("", "");
    visit("visit:source", s.source ?? "Direct / None");
    visit("visit:device", s.device);
    visit("visit:browser", s.browser);
    visit("visit:os", s.os);
    visit("visit:country", s.country);
    visit("visit:entry_page", s.pages[0]);
    visit("visit:exit_page", s.pages.at(-1));
  }
  const rows = new Map<string, ImportedRow>();
  for (const c of cells.values()) addRow(rows, { ...c.row, visitors: c.users.size });
  return rows;
}

function shortText(value: unknown): string {
  return typeof value === "string" ? value.slice(0, 200) : "";
}

/** `event_params` as a plain map of `key` → its string or integer value. */
function readParams(value: unknown): Record<string, string | number | undefined> {
  const params: Record<string, string | number | undefined> = {};
  if (!Array.isArray(value)) return params;
  for (const entry of value.slice(0, 200)) {
    if (typeof entry !== "object" || entry === null || typeof entry.key !== "string") continue;
    const v = (entry.value ?? {}) as Record<string, unknown>;
    const found = v.string_value ?? v.int_value ?? v.double_value ?? v.float_value;
    if (typeof found === "string" || typeof found === "number") {
      params[entry.key] = typeof found === "string" ? found.slice(0, MAX_IMPORT_VALUE_LENGTH) : found;
    }
  }
  return params;
}

/** The path of a page URL ("/" when there is none or it does not parse). */
function pathOf(location: unknown): string {
  if (typeof location !== "string" || location === "") return "/";
  try {
    return new URL(location).pathname.slice(0, MAX_IMPORT_VALUE_LENGTH) || "/";
  } catch {
    return location.startsWith("/") ? location.split(/[?#]/)[0].slice(0, MAX_IMPORT_VALUE_LENGTH) : "/";
  }
}
