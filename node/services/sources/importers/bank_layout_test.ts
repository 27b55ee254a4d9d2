import assert from "node:assert/strict";
import type { BankMapping } from "../../../../protocol/sources.ts";
import { detectBankLayout } from "./bank_layout.ts";
import { readTextHead } from "./csv.ts";
import { FIXTURES } from "./testing.ts";
import { ImportError } from "./types.ts";

async function headOf(file: string): Promise<string> {
  const bytes = (await Deno.readFile(new URL(`bank/${file}`, FIXTURES))).slice(0, 64 * 1024);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder("windows-1252").decode(bytes);
  }
}

Deno.test("detectBankLayout() finds the mapping of each fixture layout", async () => {
  const expected: [string, BankMapping][] = [
    ["statement.csv", {
      date: "Date",
      dateFormat: "YYYY-MM-DD",
      amount: "Amount",
      description: "Description",
      balance: "Balance",
      currency: "Currency",
      decimal: ".",
      delimiter: ",",
    }],
    ["statement_de.csv", {
      date: "Buchungstag",
      dateFormat: "DD.MM.YYYY",
      amount: "Betrag (EUR)",
      description: "Verwendungszweck",
      balance: "Saldo (EUR)",
      decimal: ",",
      delimiter: ";",
    }],
    ["statement_debit_credit.csv", {
      date: "Transaction Date",
      dateFormat: "MM/DD/YYYY",
      debit: "Debit",
      credit: "Credit",
      description: "Description",
      balance: "Balance",
      decimal: ".",
      delimiter: ",",
    }],
    ["statement_fr.csv", {
      date: "Date",
      dateFormat: "DD/MM/YYYY",
      debit: "Débit",
      credit: "Crédit",
      description: "Libellé",
      balance: "Solde",
      decimal: ",",
      delimiter: ";",
    }],
    ["statement_nl.tsv", {
      date: "Datum",
      dateFormat: "DD-MM-YYYY",
      amount: "Bedrag",
      description: "Omschrijving",
      currency: "Munt",
      decimal: ",",
      delimiter: "\t",
    }],
    ["statement_uk.csv", {
      date: "Date",
      dateFormat: "D MMM YYYY",
      debit: "Paid out",
      credit: "Paid in",
      description: "Description",
      balance: "Balance",
      decimal: ".",
      delimiter: ",",
    }],
  ];
  for (const [file, mapping] of expected) {
    assert.deepEqual(detectBankLayout(await headOf(file), { filename: file }).mapping, mapping, file);
  }
});

Deno.test("detectBankLayout() skips account details above the header and samples the first rows", async () => {
  const layout = detectBankLayout(await headOf("statement_de.csv"));
  assert.deepEqual(layout.header, [
    "Buchungstag",
    "Wertstellung",
    "Verwendungszweck",
    "Betrag (EUR)",
    "Saldo (EUR)",
  ]);
  assert.equal(layout.sample.length, 5);
  assert.deepEqual(layout.sample[2], [
    "02.05.2023",
    "03.05.2023",
    "Kartenzahlung Bäckerei Müller",
    "-29,81",
    "8.928,16",
  ]);
});

Deno.test("detectBankLayout() tells DD/MM from MM/DD by the order of the dates", () => {
  const dayFirst =
    "Date,Description,Amount\n10/01/2023,a,-1.00\n11/01/2023,b,-2.00\n12/01/2023,c,-3.00\n01/02/2023,d,-4.00\n";
  assert.equal(detectBankLayout(dayFirst).mapping.dateFormat, "DD/MM/YYYY");
  const monthFirst =
    "Date,Description,Amount\n01/10/2023,a,-1.00\n01/11/2023,b,-2.00\n01/12/2023,c,-3.00\n02/01/2023,d,-4.00\n";
  assert.equal(detectBankLayout(monthFirst).mapping.dateFormat, "MM/DD/YYYY");
  // Undecidable: a US-style file (comma, point decimals) is read month first, others day first.
  assert.equal(detectBankLayout("Date,Amount\n01/02/2023,-1.00\n").mapping.dateFormat, "MM/DD/YYYY");
  assert.equal(detectBankLayout("Datum;Betrag\n01/02/2023;-1,00\n").mapping.dateFormat, "DD/MM/YYYY");
});

Deno.test("detectBankLayout() reads German Soll/Haben, Spanish and thousands separators", () => {
  const de =
    "Buchungstag;Buchungstext;Soll;Haben;Währung\n01.05.23;Miete;850,00;;EUR\n02.05.23;Gehalt;;3.100,00;EUR\n";
  assert.deepEqual(detectBankLayout(de).mapping, {
    date: "Buchungstag",
    dateFormat: "DD.MM.YYYY",
    debit: "Soll",
    credit: "Haben",
    description: "Buchungstext",
    currency: "Währung",
    decimal: ",",
    delimiter: ";",
  });
  const es =
    'Fecha,Concepto,Importe,Saldo\n01/05/2023,Nómina,"1.234,56","5.000,00"\n03/05/2023,Luz,"-45,10","4.954,90"\n';
  assert.deepEqual(detectBankLayout(es).mapping, {
    date: "Fecha",
    dateFormat: "DD/MM/YYYY",
    amount: "Importe",
    description: "Concepto",
    balance: "Saldo",
    decimal: ",",
    delimiter: ",",
  });
});

Deno.test("detectBankLayout() reads a head cut in the middle of a line", () => {
  const lines = ["Date;Description;Amount"];
  for (let i = 0; lines.join("\n").length < 70 * 1024; i++) lines.push(`2023-05-01;"Payment ${i}";-${i},10`);
  const head = lines.join("\n").slice(0, 64 * 1024);
  const layout = detectBankLayout(head);
  assert.equal(layout.mapping.decimal, ",");
  assert.equal(layout.mapping.delimiter, ";");
});

Deno.test("detectBankLayout() rejects a file without date and amount columns, or an empty one", () => {
  assert.throws(
    () => detectBankLayout("Profile Name,Title\nAlex,Roma\n", { filename: "v.csv" }),
    (err: Error) =>
      err instanceof ImportError &&
      err.message ===
        "v.csv: not a bank statement CSV: none of the first 30 lines is a header with a date and an amount (or debit and credit) column",
  );
  assert.throws(() => detectBankLayout(" \n"), { name: "ImportError" });
  assert.throws(
    () => detectBankLayout("Date,Amount\nyesterday,1\ntoday,2\n"),
    { name: "ImportError", message: /dates of column "Date" are in none of the formats/ },
  );
});

Deno.test("readTextHead() gives detectBankLayout() the decoded start of a windows-1252 file", async () => {
  const file = await Deno.open(new URL("bank/statement_de.csv", FIXTURES));
  const head = await readTextHead(file.readable, 400);
  assert.equal(head.length, 400);
  assert.ok(head.includes("Kartenzahlung Bäckerei Müller;-29,81;8.928,16"));
  assert.equal(detectBankLayout(head).mapping.date, "Buchungstag");
  assert.equal(detectBankLayout(head).mapping.decimal, ",");
});
