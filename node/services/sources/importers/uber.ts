/**
 * Uber rider trips, `trips_data.csv` (`City,Product Type,Trip or Order Status,Request Time,Begin Trip
 * Time,Begin Trip Lat,Begin Trip Lng,Begin Trip Address,Dropoff Time,Dropoff Lat,Dropoff Lng,Dropoff
 * Address,Distance (miles),Fare Amount,Fare Currency`), times like `2019-08-14 21:34:53 +0000 UTC`.
 * Distances become km; a 0,0 position (a cancelled trip) is no place.
 */
import { cellAt, type CsvRecord, openCsvTable } from "./csv.ts";
import { batchRows, type Fail, failAt, placeOf, rowBuilder } from "./rows.ts";
import type { Importer } from "./types.ts";
import { parseAmount, parseNumber, parseTime, quote, textOrNull } from "./values.ts";
import type { SourceRow } from "../../../../protocol/sources.ts";

const row = rowBuilder("uber");
const KM_PER_MILE = 1.609344;

async function* rows(input: ReadableStream<Uint8Array>, filename: string): AsyncGenerator<SourceRow> {
  const table = await openCsvTable(input, {
    filename,
    what: "an Uber trips CSV",
    required: ["Request Time", "Begin Trip Lat", "Begin Trip Lng"],
  });
  const col = (name: string) => ({ name, index: table.column(name) });
  const c = {
    request: col("Request Time"),
    city: col("City"),
    pickupLat: col("Begin Trip Lat"),
    pickupLng: col("Begin Trip Lng"),
    dropoffLat: col("Dropoff Lat"),
    dropoffLng: col("Dropoff Lng"),
    product: col("Product Type"),
    status: col("Trip or Order Status"),
    miles: { name: "Distance (miles)", index: table.column("Distance (miles)", "Distance") },
    km: col("Distance (km)"),
    fare: col("Fare Amount"),
    currency: col("Fare Currency"),
    pickupAddress: col("Begin Trip Address"),
    dropoffAddress: col("Dropoff Address"),
  };
  for await (const record of table.rows) {
    const fail: Fail = failAt(filename, `line ${record.line}`);
    const number = (column: { name: string; index: number }): number | null => {
      const cell = cellAt(record, column.index);
      const n = parseNumber(cell);
      if (n === undefined) fail(`${column.name} ${quote(cell)} is not a number`);
      return n ?? null;
    };
    const coordinate = (column: { name: string; index: number }, limit: number): number | null => {
      const n = number(column);
      if (n !== null && Math.abs(n) > limit) fail(`${column.name} ${quote(String(n))} is out of range`);
      return n;
    };
    const requestedAt = requestTime(record, c.request.index, fail);
    const miles = number(c.miles);
    const km = miles !== null ? miles * KM_PER_MILE : number(c.km);
    const fareCell = cellAt(record, c.fare.index);
    const fare = parseAmount(fareCell, ".");
    if (fare === undefined) fail(`Fare Amount ${quote(fareCell)} is not an amount`);
    yield row({
      requestedAt,
      city: textOrNull(cellAt(record, c.city.index)),
      pickup: placeOf(coordinate(c.pickupLat, 90), coordinate(c.pickupLng, 180)),
      dropoff: placeOf(coordinate(c.dropoffLat, 90), coordinate(c.dropoffLng, 180)),
      product: textOrNull(cellAt(record, c.product.index)),
      status: textOrNull(cellAt(record, c.status.index)),
      distanceKm: km === null ? null : Math.round(km * 1000) / 1000,
      fare,
      currency: textOrNull(cellAt(record, c.currency.index)) ??
        (fareCell ? currencyFromCell(fareCell) : null),
      pickupAddress: textOrNull(cellAt(record, c.pickupAddress.index)),
      dropoffAddress: textOrNull(cellAt(record, c.dropoffAddress.index)),
    });
  }
}

function requestTime(record: CsvRecord, index: number, fail: Fail): number {
  const cell = cellAt(record, index);
  const t = parseTime(cell);
  if (t == null) fail(`Request Time ${quote(cell)} is not a date`);
  return t;
}

function currencyFromCell(cell: string): string | null {
  const m = cell.match(/[A-Z]{3}/);
  return m ? m[0] : null;
}

export const uber: Importer = {
  kind: "uber",
  parse: (input, { filename, signal }) => batchRows(rows(input, filename), signal),
};
