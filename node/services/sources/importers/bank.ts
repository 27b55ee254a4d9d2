/**
 * Bank statement CSVs of any common layout. Without a mapping the layout is detected from the first
 * 64 KiB (`bank_layout.ts`); with the mapping the person confirmed, exactly those columns are read,
 * and a header that lacks one of them is an error. The header row is the first of the first 50
 * records that has every mapped column (lines of account details before it are skipped). Amounts:
 * one signed column (`-12,50`, `12,50-`, `(12.50)`, `12.50 DR`) or debit (money out, whatever its
 * sign) and credit (money in).
 */
import { type CsvRecord, decodeText, readCsvText } from "./csv.ts";
import { detectBankLayout } from "./bank_layout.ts";
import { batchRows, type Fail, failAt, rowBuilder } from "./rows.ts";
import { type ImportContext, type Importer, ImportError } from "./types.ts";
import { currencyOf, parseAmount, parseDay, quote, textOrNull } from "./values.ts";
import { BANK_DATE_FORMATS, type BankMapping, type SourceRow } from "../../../../protocol/sources.ts";

const row = rowBuilder("bank");
/** How much of the file layout detection reads. */
export const LAYOUT_HEAD_CHARS = 64 * 1024;
const HEADER_SEARCH_RECORDS = 50;

/** Throws an ImportError when `mapping` is not a complete mapping. */
function checkMapping(mapping: BankMapping, filename: string): void {
  const bad = (detail: string): never => {
    throw new ImportError(filename, "", `column mapping: ${detail}`);
  };
  if (typeof mapping.date !== "string" || mapping.date.trim() === "") bad("no date column");
  if (!BANK_DATE_FORMATS.includes(mapping.dateFormat)) {
    bad(`unknown date format ${quote(String(mapping.dateFormat))}`);
  }
  if (!mapping.amount && !(mapping.debit && mapping.credit)) {
    bad("no amount column, nor debit and credit columns");
  }
  if (mapping.decimal !== "." && mapping.decimal !== ",") bad("decimal separator must be . or ,");
  if (![",", ";", "\t"].includes(mapping.delimiter)) bad("delimiter must be , ; or tab");
}

/** The text stream, with the mapping detected from its head when none is given. */
async function withMapping(
  text: ReadableStream<string>,
  context: ImportContext,
): Promise<{ mapping: BankMapping; text: ReadableStream<string> }> {
  if (context.mapping) return { mapping: context.mapping, text };
  const reader = text.getReader();
  const head: string[] = [];
  let length = 0;
  let done = false;
  while (length < LAYOUT_HEAD_CHARS) {
    const next = await reader.read();
    if (next.done) {
      done = true;
      break;
    }
    head.push(next.value);
    length += next.value.length;
  }
  let mapping: BankMapping;
  try {
    mapping =
      detectBankLayout(head.join("").slice(0, LAYOUT_HEAD_CHARS), { filename: context.filename }).mapping;
  } catch (err) {
    await reader.cancel();
    throw err;
  }
  const replay = new ReadableStream<string>({
    async pull(controller) {
      const piece = head.shift();
      if (piece !== undefined) return controller.enqueue(piece);
      if (done) return controller.close();
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return { mapping, text: replay };
}

async function* rows(input: ReadableStream<Uint8Array>, context: ImportContext): AsyncGenerator<SourceRow> {
  const { filename } = context;
  if (context.mapping) checkMapping(context.mapping, filename);
  const { mapping, text } = await withMapping(input.pipeThrough(decodeText()), context);
  const records = readCsvText(text, { filename, delimiter: mapping.delimiter });
  const wanted = [
    mapping.date,
    mapping.amount,
    mapping.debit,
    mapping.credit,
    mapping.description,
    mapping.balance,
    mapping.currency,
  ]
    .filter((n): n is string => typeof n === "string" && n !== "");
  // The header: the first record with every mapped column.
  let header: CsvRecord | null = null;
  let closest: { record: CsvRecord; missing: string[] } | null = null;
  for (let seen = 0; seen < HEADER_SEARCH_RECORDS && !header; seen++) {
    const next = await records.next();
    if (next.done) break;
    const cells = next.value.cells.map((c) => c.trim().toLowerCase());
    const missing = wanted.filter((w) => !cells.includes(w.trim().toLowerCase()));
    if (missing.length === 0) header = next.value;
    else if (!closest || missing.length < closest.missing.length) closest = { record: next.value, missing };
  }
  if (!header) {
    await records.return(undefined);
    if (!closest) throw new ImportError(filename, "", "the file is empty: expected a bank statement CSV");
    throw new ImportError(
      filename,
      `line ${closest.record.line}`,
      `header lacks ${closest.missing.map((m) => JSON.stringify(m)).join(", ")} of the column mapping`,
    );
  }
  const names = header.cells.map((c) => c.trim().toLowerCase());
  const col = (
    name: string | undefined,
  ) => (name ? { name, index: names.indexOf(name.trim().toLowerCase()) } : null);
  const c = {
    date: col(mapping.date)!,
    amount: col(mapping.amount),
    debit: col(mapping.debit),
    credit: col(mapping.credit),
    description: col(mapping.description),
    balance: col(mapping.balance),
    currency: col(mapping.currency),
  };
  const headerCurrency = currencyOf(
    [mapping.amount, mapping.debit, mapping.credit].filter(Boolean).join(" "),
  );
  for await (const record of records) {
    const fail: Fail = failAt(filename, `line ${record.line}`);
    const cell = (
      column: { index: number } | null,
    ) => (column ? (record.cells[column.index] ?? "").trim() : "");
    const money = (column: { name: string; index: number } | null): number | null => {
      const value = cell(column);
      const n = parseAmount(value, mapping.decimal);
      if (n === undefined) fail(`${column!.name} ${quote(value)} is not an amount`);
      return n ?? null;
    };
    const dateCell = cell(c.date);
    const amountCells = [c.amount, c.debit, c.credit].map(cell);
    if (dateCell === "" && amountCells.every((v) => v === "")) continue; // a blank or closing line
    const date = parseDay(dateCell, mapping.dateFormat);
    if (date == null) fail(`${c.date.name} ${quote(dateCell)} is not a ${mapping.dateFormat} date`);
    let amount: number | null;
    if (c.amount) amount = money(c.amount);
    else {
      const debit = money(c.debit);
      const credit = money(c.credit);
      amount = debit === null && credit === null ? null : (credit === null ? 0 : Math.abs(credit)) -
        (debit === null ? 0 : Math.abs(debit));
    }
    if (amount === null) {
      fail(`no amount in ${[mapping.amount, mapping.debit, mapping.credit].filter(Boolean).join(" or ")}`);
    }
    amount = Math.round(amount * 100) / 100;
    yield row({
      date,
      amount,
      direction: amount < 0 ? "out" : amount > 0 ? "in" : null,
      currency: textOrNull(cell(c.currency)) ?? headerCurrency ?? currencyOf(amountCells.join(" ")),
      description: textOrNull(cell(c.description)),
      balance: c.balance ? money(c.balance) : null,
    });
  }
}

export const bank: Importer = {
  kind: "bank",
  parse: (input, context) => batchRows(rows(input, context), context.signal),
};
