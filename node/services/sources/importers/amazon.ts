/**
 * Amazon order history, in either layout: the data-request `Retail.OrderHistory.1.csv` (`Website,
 * Order ID,Order Date,…,Total Owed,…,ASIN,…,Quantity,Payment Instrument Type,…,Shipping Address,…,
 * Product Name,…`, ISO times, plain amounts) and the older order report `Items.csv` (`Order Date,Order
 * ID,Title,Category,ASIN/ISBN,…,Quantity,…,Item Total,Currency`, dates `MM/DD/YY(YY)`, amounts like
 * `$12.99`). One row per item.
 */
import { cellAt, type CsvTable, findColumn, openCsvTable } from "./csv.ts";
import { batchRows, type Fail, failAt, rowBuilder } from "./rows.ts";
import { type Importer, ImportError } from "./types.ts";
import { currencyOf, parseAmount, parseDay, parseNumber, parseTime, quote, textOrNull } from "./values.ts";
import type { SourceRow } from "../../../../protocol/sources.ts";

const row = rowBuilder("amazon");
const WHAT = "an Amazon order history (Retail.OrderHistory.*.csv or Items.csv)";

async function* rows(input: ReadableStream<Uint8Array>, filename: string): AsyncGenerator<SourceRow> {
  const table = await openCsvTable(input, { filename, what: WHAT, required: ["Order Date", "Order ID"] });
  const retail = findColumn(table.header, ["Product Name"]) >= 0;
  if (!retail && findColumn(table.header, ["Title"]) < 0) {
    await table.rows.return(undefined);
    throw new ImportError(filename, "line 1", `not ${WHAT}: header lacks Product Name (or Title)`);
  }
  yield* retail ? retailRows(table, filename) : itemRows(table, filename);
}

async function* retailRows(table: CsvTable, filename: string): AsyncGenerator<SourceRow> {
  const c = {
    date: table.column("Order Date"),
    id: table.column("Order ID"),
    product: table.column("Product Name"),
    quantity: table.column("Quantity"),
    total: table.column("Total Owed"),
    currency: table.column("Currency"),
    asin: table.column("ASIN"),
    address: table.column("Shipping Address"),
    payment: table.column("Payment Instrument Type"),
  };
  for await (const record of table.rows) {
    const fail: Fail = failAt(filename, `line ${record.line}`);
    const date = cellAt(record, c.date);
    const orderedAt = parseTime(date);
    if (orderedAt == null) fail(`Order Date ${quote(date)} is not a date`);
    const totalCell = cellAt(record, c.total);
    const total = parseAmount(totalCell, ".");
    if (total === undefined) fail(`Total Owed ${quote(totalCell)} is not an amount`);
    const quantityCell = cellAt(record, c.quantity);
    const quantity = parseNumber(quantityCell);
    if (quantity === undefined) fail(`Quantity ${quote(quantityCell)} is not a number`);
    yield row({
      orderedAt,
      product: textOrNull(cellAt(record, c.product)),
      quantity,
      total,
      currency: textOrNull(cellAt(record, c.currency)) ?? currencyOf(totalCell),
      orderId: textOrNull(cellAt(record, c.id)),
      asin: textOrNull(cellAt(record, c.asin)),
      shippingAddress: textOrNull(cellAt(record, c.address)),
      payment: textOrNull(cellAt(record, c.payment)),
    });
  }
}

async function* itemRows(table: CsvTable, filename: string): AsyncGenerator<SourceRow> {
  const address = [
    "Shipping Address Name",
    "Shipping Address Street 1",
    "Shipping Address Street 2",
    "Shipping Address City",
    "Shipping Address State",
    "Shipping Address Zip",
  ].map((name) => table.column(name)).filter((i) => i >= 0);
  const c = {
    date: table.column("Order Date"),
    id: table.column("Order ID"),
    title: table.column("Title"),
    category: table.column("Category"),
    asin: table.column("ASIN/ISBN", "ASIN"),
    quantity: table.column("Quantity"),
    total: table.column("Item Total"),
    currency: table.column("Currency"),
    payment: table.column("Payment Instrument Type"),
  };
  for await (const record of table.rows) {
    const fail: Fail = failAt(filename, `line ${record.line}`);
    const date = cellAt(record, c.date);
    const orderedAt = parseDay(date, "MM/DD/YYYY") ?? parseTime(date);
    if (orderedAt == null) fail(`Order Date ${quote(date)} is not a date`);
    const totalCell = cellAt(record, c.total);
    const total = parseAmount(totalCell, ".");
    if (total === undefined) fail(`Item Total ${quote(totalCell)} is not an amount`);
    const quantityCell = cellAt(record, c.quantity);
    const quantity = parseNumber(quantityCell);
    if (quantity === undefined) fail(`Quantity ${quote(quantityCell)} is not a number`);
    const shipping = address.map((i) => cellAt(record, i)).filter((s) => s !== "").join(", ");
    yield row({
      orderedAt,
      product: textOrNull(cellAt(record, c.title)),
      productCategory: textOrNull(cellAt(record, c.category)),
      quantity,
      total,
      currency: textOrNull(cellAt(record, c.currency)) ?? currencyOf(totalCell),
      orderId: textOrNull(cellAt(record, c.id)),
      asin: textOrNull(cellAt(record, c.asin)),
      shippingAddress: textOrNull(shipping),
      payment: textOrNull(cellAt(record, c.payment)),
    });
  }
}

export const amazon: Importer = {
  kind: "amazon",
  parse: (input, { filename, signal }) => batchRows(rows(input, filename), signal),
};
