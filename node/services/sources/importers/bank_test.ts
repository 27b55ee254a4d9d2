import assert from "node:assert/strict";
import { type BankMapping, SOURCE_KIND_INFO, type SourceRow } from "../../../../protocol/sources.ts";
import { importFailure, importFixture, importRows, streamOf } from "./testing.ts";

Deno.test("bank.parse() reads a statement with one amount column: exactly the kind's fields", async () => {
  const rows = await importFixture("bank", "bank/statement.csv");
  assert.equal(rows.length, 320);
  assert.deepEqual(Object.keys(rows[0]), SOURCE_KIND_INFO.bank.fields.map((f) => f.name));
  assert.deepEqual(rows[0], {
    date: Date.UTC(2023, 4, 1),
    amount: -24.79,
    direction: "out",
    currency: "EUR",
    description: "Drogerie dm",
    balance: 8975.21,
  });
  assert.deepEqual(rows[319], {
    date: Date.UTC(2023, 4, 4),
    amount: 28.45,
    direction: "in",
    currency: "EUR",
    description: "Erstattung Zalando",
    balance: 2985.51,
  });
});

/** The same 32 transactions, written by five banks' layouts. */
const VARIANTS: [string, (row: SourceRow) => SourceRow][] = [
  ["statement_de.csv", (r) => ({ ...r, description: String(r.description).replace("Kartenzahlung ", "") })],
  ["statement_debit_credit.csv", (r) => ({ ...r, currency: "EUR" })],
  ["statement_fr.csv", (r) => ({ ...r, currency: "EUR" })],
  ["statement_nl.tsv", (r) => r],
  ["statement_uk.csv", (r) => ({ ...r, currency: "EUR" })],
];

Deno.test("bank.parse() detects and reads each layout: delimiters, decimals, date formats, debit/credit, windows-1252", async () => {
  const reference = await importFixture("bank", "bank/statement_nl.tsv");
  assert.equal(reference.length, 32);
  assert.deepEqual(reference[2], {
    date: Date.UTC(2023, 4, 2),
    amount: -29.81,
    direction: "out",
    currency: "EUR",
    description: "Bäckerei Müller",
    balance: null,
  });
  assert.deepEqual(reference[9], {
    date: Date.UTC(2023, 4, 5),
    amount: 48.92,
    direction: "in",
    currency: "EUR",
    description: "Erstattung Zalando",
    balance: null,
  });
  for (const [file, normalize] of VARIANTS) {
    let rows = (await importFixture("bank", `bank/${file}`)).map(normalize);
    if (file === "statement_debit_credit.csv") rows = rows.toReversed(); // newest first
    assert.equal(rows.length, 32, file);
    assert.deepEqual(rows.map((r) => ({ ...r, balance: null })), reference, file);
    if (file !== "statement_nl.tsv") assert.equal(rows[9].balance, 8868.33, file);
  }
  const uk = await importFixture("bank", "bank/statement_uk.csv");
  assert.equal(uk[0].currency, "GBP");
});

const DE_MAPPING: BankMapping = {
  date: "Wertstellung",
  dateFormat: "DD.MM.YYYY",
  amount: "Betrag (EUR)",
  decimal: ",",
  delimiter: ";",
};

Deno.test("bank.parse() with a confirmed mapping reads exactly its columns", async () => {
  const rows = await importFixture("bank", "bank/statement_de.csv", DE_MAPPING);
  assert.equal(rows.length, 32);
  // The value day, one day after the booking day; no description, balance or currency column mapped,
  // so only the header's currency remains.
  assert.deepEqual(rows[2], {
    date: Date.UTC(2023, 4, 3),
    amount: -29.81,
    direction: "out",
    currency: "EUR",
    description: null,
    balance: null,
  });
});

Deno.test("bank.parse() rejects a mapping whose columns the file lacks, or an incomplete mapping", async () => {
  assert.equal(
    (await importFailure("bank", "bank/statement_de.csv", { ...DE_MAPPING, balance: "Valuta" })).message,
    'statement_de.csv line 4: header lacks "Valuta" of the column mapping',
  );
  assert.equal(
    (await importFailure("bank", "bank/statement_de.csv", { ...DE_MAPPING, amount: undefined })).message,
    "statement_de.csv: column mapping: no amount column, nor debit and credit columns",
  );
  assert.equal(
    (await importFailure("bank", "bank/statement_de.csv", {
      ...DE_MAPPING,
      dateFormat: "DD.MM.YY" as "DD.MM.YYYY",
    }))
      .message,
    'statement_de.csv: column mapping: unknown date format "DD.MM.YY"',
  );
  // A date format that does not fit the file names the first line it fails on.
  assert.equal(
    (await importFailure("bank", "bank/statement_de.csv", { ...DE_MAPPING, dateFormat: "YYYY-MM-DD" }))
      .message,
    'statement_de.csv line 5: Wertstellung "02.05.2023" is not a YYYY-MM-DD date',
  );
});

Deno.test("bank.parse() names the file and line of a bad date, amount or a cut file, and rejects other files", async () => {
  const cases: [string, string][] = [
    ["statement_bad_date.csv", 'statement_bad_date.csv line 7: Date "2023-13-45" is not a YYYY-MM-DD date'],
    ["statement_bad_amount.csv", 'statement_bad_amount.csv line 4: Amount "12..50" is not an amount'],
    [
      "statement_truncated.csv",
      "statement_truncated.csv line 8: a quoted field is never closed (is the file cut short?)",
    ],
    [
      "wrong_kind.csv",
      "wrong_kind.csv: not a bank statement CSV: none of the first 30 lines is a header with a date and an amount (or debit and credit) column",
    ],
    ["empty.csv", "empty.csv: the file is empty: expected a bank statement CSV"],
  ];
  for (const [file, message] of cases) {
    assert.equal((await importFailure("bank", `bank/${file}`)).message, message);
  }
});

Deno.test("bank.parse() detects the layout from the head and still reads a file larger than it", async () => {
  const lines = ["Datum;Omschrijving;Bedrag"];
  for (let i = 0; i < 4000; i++) {
    lines.push(`${String(1 + (i % 28)).padStart(2, "0")}-02-2023;Betaling ${i};-${i},50`);
  }
  const text = lines.join("\n") + "\n";
  assert.ok(text.length > 100 * 1024);
  const rows = await importRows("bank", streamOf(text, 1000), "big.csv");
  assert.equal(rows.length, 4000);
  assert.deepEqual(rows[3999], {
    date: Date.UTC(2023, 1, 24), // 1 + 3999 % 28
    amount: -3999.5,
    direction: "out",
    currency: null,
    description: "Betaling 3999",
    balance: null,
  });
});
