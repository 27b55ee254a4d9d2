/**
 * Airbnb host reservations, `reservations.csv` (`Confirmation code,Status,Guest name,Contact,# of
 * adults,# of children,# of infants,Start date,End date,# of nights,Booked,Listing,Earnings`): dates
 * `MM/DD/YYYY`, earnings like `€1,234.00` or `$95.00` (the sign gives the currency). Guests are
 * adults + children + infants, of the columns present.
 */
import { cellAt, openCsvTable } from "./csv.ts";
import { batchRows, type Fail, failAt, rowBuilder } from "./rows.ts";
import type { Importer } from "./types.ts";
import { currencyOf, parseAmount, parseDay, parseNumber, quote, textOrNull } from "./values.ts";
import type { SourceRow } from "../../../../protocol/sources.ts";

const row = rowBuilder("airbnb");

async function* rows(input: ReadableStream<Uint8Array>, filename: string): AsyncGenerator<SourceRow> {
  const table = await openCsvTable(input, {
    filename,
    what: "an Airbnb reservations.csv",
    required: ["Start date", "End date"],
  });
  const c = {
    start: table.column("Start date"),
    end: table.column("End date"),
    nights: table.column("# of nights"),
    guests: ["# of adults", "# of children", "# of infants"].map((n) => ({ n, i: table.column(n) }))
      .filter(({ i }) => i >= 0),
    status: table.column("Status"),
    earnings: table.column("Earnings"),
    currency: table.column("Currency"),
    code: table.column("Confirmation code"),
    guestName: table.column("Guest name"),
    contact: table.column("Contact"),
    listing: table.column("Listing"),
  };
  for await (const record of table.rows) {
    const fail: Fail = failAt(filename, `line ${record.line}`);
    const day = (index: number, name: string): number => {
      const cell = cellAt(record, index);
      const t = parseDay(cell, "MM/DD/YYYY") ?? parseDay(cell, "YYYY-MM-DD");
      if (t == null) fail(`${name} ${quote(cell)} is not a date`);
      return t;
    };
    const count = (index: number, name: string): number | null => {
      const cell = cellAt(record, index);
      const n = parseNumber(cell);
      if (n === undefined || (n !== null && n < 0)) fail(`${name} ${quote(cell)} is not a count`);
      return n ?? null;
    };
    const startDate = day(c.start, "Start date");
    const endDate = day(c.end, "End date");
    const parts = c.guests.map(({ n, i }) => count(i, n)).filter((n) => n !== null);
    const earningsCell = cellAt(record, c.earnings);
    const earnings = parseAmount(earningsCell);
    if (earnings === undefined) fail(`Earnings ${quote(earningsCell)} is not an amount`);
    yield row({
      startDate,
      endDate,
      nights: count(c.nights, "# of nights") ?? Math.round((endDate - startDate) / 86_400_000),
      guests: parts.length > 0 ? parts.reduce((a, b) => a + b, 0) : null,
      status: textOrNull(cellAt(record, c.status)),
      earnings,
      currency: textOrNull(cellAt(record, c.currency)) ?? currencyOf(earningsCell),
      confirmationCode: textOrNull(cellAt(record, c.code)),
      guestName: textOrNull(cellAt(record, c.guestName)),
      contact: textOrNull(cellAt(record, c.contact)),
      listing: textOrNull(cellAt(record, c.listing)),
    });
  }
}

export const airbnb: Importer = {
  kind: "airbnb",
  parse: (input, { filename, signal }) => batchRows(rows(input, filename), signal),
};
