import assert from "node:assert/strict";
import { SOURCE_KIND_INFO } from "../../../../protocol/sources.ts";
import { importFailure, importFixture } from "./testing.ts";

Deno.test("amazon.parse() reads Retail.OrderHistory.1.csv: one row per item, exactly the kind's fields", async () => {
  const rows = await importFixture("amazon", "amazon/Retail.OrderHistory.1.csv");
  assert.equal(rows.length, 320);
  assert.deepEqual(Object.keys(rows[0]), SOURCE_KIND_INFO.amazon.fields.map((f) => f.name));
  assert.deepEqual(rows[0], {
    orderedAt: Date.UTC(2023, 4, 1, 8, 6, 27),
    product: "Espresso Beans 1 kg",
    productCategory: null,
    quantity: 2,
    total: 22.53,
    currency: "EUR",
    orderId: "302-5026029-9372204",
    asin: "B0M55EN9ZF",
    shippingAddress: "Alex Example 12 Torstraße BERLIN 10119 DE",
    payment: "Visa - 1234",
  });
  assert.deepEqual(
    [rows[319].orderedAt, rows[319].product, rows[319].total, rows[319].quantity],
    [Date.UTC(2023, 4, 4, 21, 55, 59), "USB-C Cable, 2 m", 42.93, 2],
  );
});

Deno.test("amazon.parse() reads the older Items.csv report: $ amounts, MM/DD/YY dates, categories", async () => {
  const rows = await importFixture("amazon", "amazon/Items.csv");
  assert.equal(rows.length, 40);
  assert.deepEqual(rows[1], {
    orderedAt: Date.UTC(2023, 4, 1),
    product: 'Notebook A5, dotted, 5.5" x 8.5"',
    productCategory: "OFFICE_PRODUCTS",
    quantity: 2,
    total: 40.03,
    currency: "USD",
    orderId: "302-1063968-1399392",
    asin: "B0LZ2BNEKN",
    shippingAddress: "Alex Example, 12 Main St, Apt 3, SEATTLE, WA, 98101-1234",
    payment: "Visa - 1234",
  });
});

Deno.test("amazon.parse() names the file and line of a bad date, and rejects a CSV of another kind", async () => {
  assert.equal(
    (await importFailure("amazon", "amazon/Retail.OrderHistory_bad_date.csv")).message,
    'Retail.OrderHistory_bad_date.csv line 6: Order Date "2023-02-30T10:00:00Z" is not a date',
  );
  assert.equal(
    (await importFailure("amazon", "amazon/wrong_kind.csv")).message,
    "wrong_kind.csv line 1: not an Amazon order history (Retail.OrderHistory.*.csv or Items.csv): header lacks Product Name (or Title)",
  );
  assert.equal(
    (await importFailure("amazon", "uber/trips_data.csv")).message,
    "trips_data.csv line 1: not an Amazon order history (Retail.OrderHistory.*.csv or Items.csv): header lacks Order Date, Order ID",
  );
});
