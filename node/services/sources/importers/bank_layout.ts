/**
 * Detects the layout of a bank statement CSV from its first lines: the delimiter (`,` `;` tab), the
 * header row (lines of account details before it are skipped), which columns hold the date, the
 * amount (one signed column, or debit and credit), the description, the balance and the currency
 * (common words in English, German, French, Dutch and Spanish), the decimal separator and the date
 * format (of `BANK_DATE_FORMATS`; between `DD/MM` and `MM/DD` the one under which the dates are in
 * order). The person confirms or corrects the result in the UI before importing.
 *
 * ```ts
 * const { mapping, header, sample } = detectBankLayout("Buchungstag;Verwendungszweck;Betrag\n01.05.2023;Miete;-850,00\n");
 * // mapping: { date: "Buchungstag", dateFormat: "DD.MM.YYYY", amount: "Betrag", decimal: ",", delimiter: ";", … }
 * ```
 */
import { parse } from "csv-parse/sync";
import { BANK_DATE_FORMATS, type BankDateFormat, type BankMapping } from "../../../../protocol/sources.ts";
import { ImportError } from "./types.ts";
import { parseDay } from "./values.ts";

export interface BankLayout {
  mapping: BankMapping;
  /** The header row's cells. */
  header: string[];
  /** Up to five data rows after the header. */
  sample: string[][];
}

/** Header words of each column role, most specific first. */
const WORDS = {
  date: [
    "booking date",
    "transaction date",
    "posting date",
    "date",
    "buchungstag",
    "buchungsdatum",
    "datum",
    "date operation",
    "date de l operation",
    "date comptable",
    "fecha operacion",
    "fecha",
    "transactiedatum",
    "boekdatum",
    "value date",
    "wertstellung",
    "valutadatum",
    "date valeur",
    "fecha valor",
    "rentedatum",
  ],
  debit: [
    "debit",
    "debit amount",
    "withdrawal",
    "withdrawals",
    "money out",
    "paid out",
    "soll",
    "ausgang",
    "belastung",
    "afschrijving",
    "cargo",
    "cargos",
    "debe",
  ],
  credit: [
    "credit",
    "credit amount",
    "deposit",
    "deposits",
    "money in",
    "paid in",
    "haben",
    "eingang",
    "gutschrift",
    "bijschrijving",
    "abono",
    "abonos",
    "haber",
  ],
  amount: ["amount", "transaction amount", "betrag", "umsatz", "montant", "bedrag", "importe", "cantidad"],
  balance: ["balance", "running balance", "saldo", "kontostand", "solde", "available balance"],
  currency: ["currency", "wahrung", "waehrung", "devise", "monnaie", "munt", "moneda", "divisa", "ccy"],
  description: [
    "description",
    "details",
    "transaction details",
    "memo",
    "narrative",
    "payee",
    "verwendungszweck",
    "buchungstext",
    "beschreibung",
    "beguenstigter zahlungspflichtiger",
    "empfanger",
    "auftraggeber",
    "libelle",
    "libelle de l operation",
    "intitule",
    "omschrijving",
    "naam omschrijving",
    "mededelingen",
    "concepto",
    "descripcion",
    "beneficiario",
    "reference",
    "name",
    "naam",
  ],
}; // deno-fmt-ignore

/** A header cell as words: lower case, no accents, no punctuation. */
function words(cell: string): string {
  return cell.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase().replace(/[^a-z0-9]+/g, " ").trim();
}

/** The column of `role` among `header` (skipping `used`): an exact word match first, then a contained one. */
function findRole(header: string[], role: keyof typeof WORDS, used: Set<number>): number {
  const cells = header.map(words);
  for (const exact of [true, false]) {
    for (const word of WORDS[role]) {
      const i = cells.findIndex((c, i) =>
        !used.has(i) && (exact ? c === word : ` ${c} `.includes(` ${word} `))
      );
      if (i >= 0) return i;
    }
  }
  return -1;
}

interface Roles {
  date: number;
  amount: number;
  debit: number;
  credit: number;
  description: number;
  balance: number;
  currency: number;
}

function findRoles(header: string[]): Roles | null {
  const used = new Set<number>();
  const take = (role: keyof typeof WORDS) => {
    const i = findRole(header, role, used);
    if (i >= 0) used.add(i);
    return i;
  };
  const date = take("date");
  if (date < 0) return null;
  let debit = take("debit");
  let credit = take("credit");
  if (debit < 0 || credit < 0) {
    used.delete(debit);
    used.delete(credit);
    debit = credit = -1;
  }
  const amount = debit < 0 ? take("amount") : -1;
  if (amount < 0 && debit < 0) return null;
  return {
    date,
    amount,
    debit,
    credit,
    balance: take("balance"),
    currency: take("currency"),
    description: take("description"),
  };
}

/**
 * Parses the head with one delimiter; null when it is not CSV with it. A last line cut inside a
 * quoted field (the file is short and broken) is dropped, so the import can name its line.
 */
function rowsWith(text: string, delimiter: string): string[][] | null {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return parse(text, { delimiter, relax_column_count: true, relax_quotes: true, skip_empty_lines: true });
    } catch {
      const cut = text.lastIndexOf("\n", text.length - 2);
      if (cut < 0) return null;
      text = text.slice(0, cut + 1);
    }
  }
  return null;
}

function decimalOf(values: string[], delimiter: BankMapping["delimiter"]): "." | "," {
  let dot = 0;
  let comma = 0;
  for (const v of values) {
    const t = v.replace(/[^\d.,]/g, "");
    const m = t.match(/([.,])\d{1,2}$/) ??
      (/[.,].*[.,]/.test(t) && !/^\d{1,3}([.,])\d{3}$/.test(t) ? t.match(/([.,])\d*$/) : null);
    if (m?.[1] === ".") dot++;
    else if (m?.[1] === ",") comma++;
  }
  if (dot === comma) return delimiter === ";" ? "," : ".";
  return dot > comma ? "." : ",";
}

/**
 * The format most of `values` are in (a bad date is the import's to report, with its line); among
 * equals, the one under which the dates are in order, then the first of the preferred order.
 */
function dateFormatOf(values: string[], preferUs: boolean): BankDateFormat | null {
  const order: BankDateFormat[] = preferUs
    ? ["YYYY-MM-DD", "MM/DD/YYYY", "DD/MM/YYYY", "DD.MM.YYYY", "DD-MM-YYYY", "D MMM YYYY"]
    : [...BANK_DATE_FORMATS];
  let best: { format: BankDateFormat; failed: number; disorder: number } | null = null;
  for (const format of order) {
    const days = values.map((v) => parseDay(v, format)).filter((d) => d != null);
    const failed = values.length - days.length;
    if (failed * 2 >= values.length) continue;
    let up = 0;
    let down = 0;
    for (let i = 1; i < days.length; i++) {
      if (days[i] < days[i - 1]) up++;
      if (days[i] > days[i - 1]) down++;
    }
    const disorder = Math.min(up, down);
    if (!best || failed < best.failed || (failed === best.failed && disorder < best.disorder)) {
      best = { format, failed, disorder };
    }
  }
  return best?.format ?? null;
}

/** The layout of a bank statement from the first (at most 64 KiB) of its text; see the module doc. */
export function detectBankLayout(head: string, options: { filename?: string } = {}): BankLayout {
  const filename = options.filename ?? "statement.csv";
  let text = head.replace(/^\uFEFF/, "").replaceAll("\r\n", "\n");
  const lastNewline = text.lastIndexOf("\n");
  if (lastNewline > 0 && lastNewline < text.length - 1 && text.length >= 60 * 1024) {
    text = text.slice(0, lastNewline + 1); // the last line may be cut
  }
  if (text.trim() === "") {
    throw new ImportError(filename, "", "the file is empty: expected a bank statement CSV");
  }
  let best:
    | { delimiter: BankMapping["delimiter"]; rows: string[][]; at: number; roles: Roles; score: number }
    | null = null;
  for (const delimiter of [";", "\t", ","] as const) {
    const rows = rowsWith(text, delimiter);
    if (!rows) continue;
    for (let at = 0; at < Math.min(rows.length, 30); at++) {
      if (rows[at].length < 2) continue;
      const roles = findRoles(rows[at]);
      if (!roles) continue;
      const width = rows[at].length;
      const score = rows.slice(at + 1).filter((r) => r.length === width).length;
      if (!best || score > best.score) best = { delimiter, rows, at, roles, score };
      break;
    }
  }
  if (!best) {
    throw new ImportError(
      filename,
      "",
      "not a bank statement CSV: none of the first 30 lines is a header with a date and an amount (or debit and credit) column",
    );
  }
  const { delimiter, rows, at, roles } = best;
  const header = rows[at].map((c) => c.trim());
  const data = rows.slice(at + 1, at + 201).filter((r) =>
    r.length >= 2 && (r[roles.date] ?? "").trim() !== ""
  );
  const column = (i: number) => data.map((r) => (r[i] ?? "").trim()).filter((v) => v !== "");
  const amounts = [roles.amount, roles.debit, roles.credit, roles.balance].filter((i) => i >= 0).flatMap(
    column,
  );
  const decimal = decimalOf(amounts, delimiter);
  const dateFormat = dateFormatOf(column(roles.date), delimiter === "," && decimal === ".");
  if (!dateFormat) {
    throw new ImportError(
      filename,
      `line ${at + 2}`,
      `the dates of column ${JSON.stringify(header[roles.date])} are in none of the formats ${
        BANK_DATE_FORMATS.join(", ")
      }`,
    );
  }
  const name = (i: number) => (i >= 0 ? header[i] : undefined);
  const mapping: BankMapping = { date: header[roles.date], dateFormat, decimal, delimiter };
  for (
    const [key, index] of [
      ["amount", roles.amount],
      ["debit", roles.debit],
      ["credit", roles.credit],
      ["description", roles.description],
      ["balance", roles.balance],
      ["currency", roles.currency],
    ] as const
  ) {
    const value = name(index);
    if (value !== undefined) mapping[key] = value;
  }
  return { mapping, header, sample: data.slice(0, 5).map((r) => r.map((c) => c.trim())) };
}
