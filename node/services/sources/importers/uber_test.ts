import assert from "node:assert/strict";
import { SOURCE_KIND_INFO } from "../../../../protocol/sources.ts";
import { importFailure, importFixture } from "./testing.ts";

Deno.test("uber.parse() reads trips_data.csv: places, km, fares, exactly the kind's fields", async () => {
  const rows = await importFixture("uber", "uber/trips_data.csv");
  assert.equal(rows.length, 320);
  assert.deepEqual(Object.keys(rows[0]), SOURCE_KIND_INFO.uber.fields.map((f) => f.name));
  assert.deepEqual(rows[0], {
    requestedAt: Date.UTC(2023, 4, 4, 11, 37, 19),
    city: "Munich",
    pickup: "48.121778,11.525543",
    dropoff: "48.124292,11.521535",
    product: "Comfort",
    status: "COMPLETED",
    distanceKm: 2.173, // 1.35 miles
    fare: 14.36,
    currency: "EUR",
    pickupAddress: "Sendlinger Straße 2, Munich",
    dropoffAddress: "Leopoldstraße 4, Munich",
  });
  // A cancelled trip: Uber writes 0,0 and no addresses.
  assert.deepEqual(rows[302], {
    requestedAt: Date.UTC(2023, 4, 1, 10, 14, 49),
    city: "Berlin",
    pickup: null,
    dropoff: null,
    product: "UberX",
    status: "CANCELED",
    distanceKm: 0,
    fare: 0,
    currency: "EUR",
    pickupAddress: null,
    dropoffAddress: null,
  });
  assert.equal(rows[319].requestedAt, Date.UTC(2023, 4, 1, 8, 26, 35));
  assert.equal(rows[319].distanceKm, 2.945); // 1.83 miles
  assert.deepEqual(new Set(rows.map((r) => r.city)), new Set(["Berlin", "Munich"]));
});

Deno.test("uber.parse() reads a file with a BOM, CRLF and every field quoted, and an older layout", async () => {
  const quoted = await importFixture("uber", "uber/trips_data_bom_crlf.csv");
  assert.equal(quoted.length, 15);
  assert.deepEqual(quoted[0], {
    requestedAt: Date.UTC(2023, 4, 1, 10, 33, 39),
    city: "Berlin",
    pickup: "52.5303,13.432824",
    dropoff: "52.539744,13.434479",
    product: "Comfort",
    status: "COMPLETED",
    distanceKm: 3.959,
    fare: 13.49,
    currency: "EUR",
    pickupAddress: "Alte Schönhauser Straße 72, Berlin",
    dropoffAddress: "Invalidenstraße 106, Berlin",
  });
  const old = await importFixture("uber", "uber/trips_data_old.csv");
  assert.equal(old.length, 15);
  assert.deepEqual(old[0], { ...quoted[0], currency: null, pickupAddress: null, dropoffAddress: null });
});

Deno.test("uber.parse() names the file and line of a bad date or number, and rejects another kind's CSV", async () => {
  const cases: [string, string][] = [
    [
      "trips_data_bad_date.csv",
      'trips_data_bad_date.csv line 8: Request Time "2023-05-01 25:61:00 +0000 UTC" is not a date',
    ],
    ["trips_data_bad_number.csv", 'trips_data_bad_number.csv line 5: Begin Trip Lat "north" is not a number'],
    [
      "wrong_kind.csv",
      "wrong_kind.csv line 1: not an Uber trips CSV: header lacks Request Time, Begin Trip Lat, Begin Trip Lng",
    ],
  ];
  for (const [file, message] of cases) {
    assert.equal((await importFailure("uber", `uber/${file}`)).message, message);
  }
});
