import assert from "node:assert/strict";
import { SOURCE_KIND_INFO } from "../../../../protocol/sources.ts";
import { importFailure, importFixture } from "./testing.ts";

Deno.test("airbnb.parse() reads reservations.csv: days, guests, € earnings, exactly the kind's fields", async () => {
  const rows = await importFixture("airbnb", "airbnb/reservations.csv");
  assert.equal(rows.length, 320);
  assert.deepEqual(Object.keys(rows[0]), SOURCE_KIND_INFO.airbnb.fields.map((f) => f.name));
  assert.deepEqual(rows[0], {
    startDate: Date.UTC(2023, 4, 1),
    endDate: Date.UTC(2023, 4, 4),
    nights: 3,
    guests: 2,
    status: "Confirmed",
    earnings: 142.18,
    currency: "EUR",
    confirmationCode: "HM50BGVQPT",
    guestName: "Ana García",
    contact: "+49 151 7595784",
    listing: "Balcony flat, Kreuzberg",
  });
  assert.deepEqual(
    [rows[319].startDate, rows[319].endDate, rows[319].nights, rows[319].guests, rows[319].earnings],
    [Date.UTC(2023, 4, 4), Date.UTC(2023, 4, 6), 2, 3, 100.69],
  );
});

Deno.test("airbnb.parse() reads $ earnings with thousands separators, CRLF, and an older layout", async () => {
  const usd = await importFixture("airbnb", "airbnb/reservations_usd.csv");
  assert.equal(usd.length, 20);
  assert.deepEqual([usd[0].earnings, usd[0].currency, usd[0].guestName], [1285, "USD", "Olga Ivanova"]);
  assert.ok(usd.some((r) => typeof r.earnings === "number" && r.earnings < 100 && r.earnings % 1 !== 0));
  const old = await importFixture("airbnb", "airbnb/reservations_old.csv");
  assert.equal(old.length, 20);
  assert.deepEqual(old[0], {
    startDate: Date.UTC(2023, 4, 1),
    endDate: Date.UTC(2023, 4, 4),
    nights: 3,
    guests: 2, // adults + children; no infants column
    status: "Past guest",
    earnings: 154.32,
    currency: "EUR",
    confirmationCode: "HMGQBK394L",
    guestName: "Sam Lee",
    contact: null,
    listing: "Quiet room near Tempelhof",
  });
});

Deno.test("airbnb.parse() names the file and line of a bad date, and rejects a CSV of another kind", async () => {
  assert.equal(
    (await importFailure("airbnb", "airbnb/reservations_bad_date.csv")).message,
    'reservations_bad_date.csv line 10: End date "13/45/2023" is not a date',
  );
  assert.equal(
    (await importFailure("airbnb", "airbnb/wrong_kind.csv")).message,
    "wrong_kind.csv line 1: not an Airbnb reservations.csv: header lacks Start date, End date",
  );
});
