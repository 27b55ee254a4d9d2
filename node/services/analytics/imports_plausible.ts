/**
 * Plausible's CSV export (Site settings → Imports & Exports → Export): one
 * `imported_<table>_<YYYYMMDD>_<YYYYMMDD>.csv` per table (the `imported_`
 * prefix is optional, as Plausible's importer allows), with a header row, as
 * ClickHouse writes `CSVWithNames`. Columns are found by name, so the older
 * and the current layouts both read; unknown tables and columns are ignored.
 *
 * | table | becomes |
 * | --- | --- |
 * | visitors | the day's totals (`dim ""`) |
 * | sources | `visit:source` (empty: "Direct / None") |
 * | pages | `event:page` |
 * | entry_pages, exit_pages | `visit:entry_page`, `visit:exit_page` |
 * | locations | `visit:country`, `visit:region`, `visit:city` (GeoNames id) |
 * | devices, browsers, operating_systems | `visit:device` (lowercased), `visit:browser`, `visit:os` |
 * | custom_events | `event:goal` |
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

const FILE = /^(?:imported_)?([a-z_]+?)_(\d{8})_(\d{8})\.csv$/;

interface Table {
  dim: "" | ImportDimension | "locations";
  /** The column holding the dimension's value. */
  column?: string;
  /** Columns that must be there besides `date`. */
  required: string[];
}

const TABLES: Record<string, Table> = {
  visitors: { dim: "", required: ["visitors", "pageviews", "bounces", "visits", "visit_duration"] },
  sources: { dim: "visit:source", column: "source", required: ["visitors"] },
  pages: { dim: "event:page", column: "page", required: ["visitors", "pageviews"] },
  entry_pages: { dim: "visit:entry_page", column: "entry_page", required: ["visitors", "entrances"] },
  exit_pages: { dim: "visit:exit_page", column: "exit_page", required: ["visitors", "exits"] },
  locations: { dim: "locations", required: ["country", "visitors"] },
  devices: { dim: "visit:device", column: "device", required: ["visitors"] },
  browsers: { dim: "visit:browser", column: "browser", required: ["visitors"] },
  operating_systems: { dim: "visit:os", column: "operating_system", required: ["visitors"] },
  custom_events: { dim: "event:goal", column: "name", required: ["visitors", "events"] },
};

const DEVICES: Record<string, string> = { desktop: "desktop", mobile: "mobile", tablet: "tablet" };

/** Aggregates Plausible export CSVs; throws {@link ImportError} naming the file and line of the first bad value. */
export function readPlausibleCsv(files: ImportFile[]): Map<string, ImportedRow> {
  const rows = new Map<string, ImportedRow>();
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let known = 0;
  for (const file of files) {
    const match = FILE.exec(file.name);
    const table = match ? TABLES[match[1]] : undefined;
    if (!match || !table) {
      if (/^(imported_)?[a-z_]+_\d{8}_\d{8}\.csv$/.test(file.name)) continue; // a table this node does not keep
      throw new ImportError(
        `"${
          file.name.slice(0, 100)
        }" is not a file of a Plausible export (imported_<table>_YYYYMMDD_YYYYMMDD.csv)`,
      );
    }
    known++;
    const firstDay = dayOf(match[2], file.name);
    const lastDay = dayOf(match[3], file.name);
    let text: string;
    try {
      text = decoder.decode(file.bytes);
    } catch {
      throw new ImportError(`${file.name} is not UTF-8 text`);
    }
    const records = parseCsv(text, file.name);
    const header = records.shift();
    if (!header) continue;
    const index = new Map(header.map((name, i) => [name.trim(), i]));
    for (const name of ["date", ...table.required, ...(table.column ? [table.column] : [])]) {
      if (!index.has(name)) throw new ImportError(`${file.name} has no "${name}" column`);
    }
    records.forEach((record, i) => {
      const line = i + 2;
      const text = (name: string) => {
        const at = index.get(name);
        return at === undefined ? "" : (record[at] ?? "").slice(0, MAX_IMPORT_VALUE_LENGTH);
      };
      const count = (name: string) => {
        const value = text(name);
        if (value === "" && !table.required.includes(name)) return 0;
        if (!/^\d{1,15}$/.test(value)) {
          throw new ImportError(
            `${file.name} line ${line}: "${name}" is not a count (${JSON.stringify(value.slice(0, 20))})`,
          );
        }
        return Number(value);
      };
      if (record.length === 1 && record[0] === "") return; // a blank line
      const date = text("date");
      const dayNumber = /^\d{4}-\d{2}-\d{2}$/.test(date) ? Date.parse(`${date}T00:00:00Z`) / day : NaN;
      if (!Number.isInteger(dayNumber) || dayNumber < firstDay || dayNumber > lastDay) {
        throw new ImportError(
          `${file.name} line ${line}: "date" ${
            JSON.stringify(date.slice(0, 20))
          } is not a day of the file's range`,
        );
      }
      const visits = count("visits") || count("entrances") || count("exits");
      const base = {
        day: dayNumber,
        visitors: count("visitors"),
        visits,
        pageviews: count("pageviews"),
        bounces: count("bounces"),
        visitDuration: count("visit_duration"),
        events: count("events"),
      };
      if (table.dim === "") {
        addRow(rows, { ...base, dim: "", value: "", events: base.pageviews });
      } else if (table.dim === "locations") {
        const country = text("country").toUpperCase();
        if (!/^[A-Z]{2}$/.test(country) || country === "ZZ") return; // unknown locations
        addRow(rows, { ...base, dim: "visit:country", value: country });
        const region = text("region").toUpperCase();
        if (/^[A-Z]{2}-[A-Z0-9]{1,3}$/.test(region)) {
          addRow(rows, { ...base, dim: "visit:region", value: region });
        }
        const city = text("city");
        if (/^[1-9]\d{0,9}$/.test(city)) addRow(rows, { ...base, dim: "visit:city", value: city });
      } else {
        let value = text(table.column!);
        if (table.dim === "visit:source" && value === "") value = "Direct / None";
        if (table.dim === "visit:device") value = DEVICES[value.toLowerCase()] ?? "other";
        if (value === "") value = "(not set)";
        addRow(rows, { ...base, dim: table.dim, value });
        if (table.dim === "event:goal") addRow(rows, { ...zero(dayNumber), events: base.events });
      }
    });
  }
  if (known === 0) throw new ImportError("The upload has no table of a Plausible export");
  return rows;
}

function zero(dayNumber: number): ImportedRow {
  return {
    day: dayNumber,
    dim: "",
    value: "",
    visitors: 0,
    visits: 0,
    pageviews: 0,
    bounces: 0,
    visitDuration: 0,
    events: 0,
  };
}

function dayOf(compact: string, file: string): number {
  const iso = `${compact.slice(0, 4)}-${compact.slice(4, 6)}-${compact.slice(6, 8)}`;
  const ts = Date.parse(`${iso}T00:00:00Z`);
  if (!Number.isFinite(ts) || new Date(ts).toISOString().slice(0, 10) !== iso) {
    throw new ImportError(`${file}: ${compact} is not a date`);
  }
  return ts / day;
}

/** RFC 4180 records: `"`-quoted fields with `""` escapes, CRLF or LF line ends. */
export function parseCsv(text: string, file: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        field += ch;
      }
    } else if (ch === '"' && field === "") {
      quoted = true;
    } else if (ch === ",") {
      record.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      records.push(record);
      record = [];
      field = "";
    } else {
      field += ch;
    }
  }
  if (quoted) throw new ImportError(`${file} ends inside a quoted field`);
  if (field !== "" || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}
