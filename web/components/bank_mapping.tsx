/**
 * The column mapping of a bank statement, as the node detected it and as the person confirms or
 * changes it: selects over the header's columns (date, one amount column or debit and credit,
 * description, balance, currency), the date format, the decimal separator and the delimiter, above
 * the first rows of the file. Changing the delimiter splits the file's first lines again here.
 * Browser-safe: the import form of My data renders it.
 */
import type { BankLayoutView } from "../../protocol/api/sources.ts";
import { BANK_DATE_FORMATS, type BankMapping } from "../../protocol/sources.ts";

/** The optional columns besides the amount. */
const OPTIONAL = [
  ["description", "Description"],
  ["balance", "Balance"],
  ["currency", "Currency"],
] as const;

const DELIMITERS: { value: BankMapping["delimiter"]; label: string }[] = [
  { value: ",", label: "Comma ," },
  { value: ";", label: "Semicolon ;" },
  { value: "\t", label: "Tab" },
];

/**
 * Splits the first `limit` records of CSV text with `delimiter`, honouring double quotes; the first
 * record is the header. Blank lines are skipped.
 */
export function splitCsvHead(text: string, delimiter: string, limit = 6): string[][] {
  const records: string[][] = [];
  let field = "";
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length && records.length < limit; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') field += text[++i];
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === delimiter) {
      record.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      if (record.some((f) => f.trim() !== "")) records.push(record.map((f) => f.trim()));
      record = [];
      field = "";
    } else field += c;
  }
  return records;
}

export interface BankMappingEditorProps {
  layout: BankLayoutView;
  mapping: BankMapping;
  onChange: (mapping: BankMapping) => void;
  /** Called with a new delimiter; the caller splits the file again. */
  onDelimiter: (delimiter: BankMapping["delimiter"]) => void;
  busy: boolean;
}

export function BankMappingEditor({ layout, mapping, onChange, onDelimiter, busy }: BankMappingEditorProps) {
  const split = mapping.amount === undefined;
  const set = (patch: Partial<BankMapping>) => {
    const next = { ...mapping, ...patch };
    for (const [key, value] of Object.entries(next)) {
      if (value === undefined || value === "") delete (next as Record<string, unknown>)[key];
    }
    onChange(next as BankMapping);
  };
  const column = (key: keyof BankMapping, label: string, required: boolean) => (
    <label class="field" key={key}>
      <span>{label}</span>
      <select
        name={`mapping-${key}`}
        value={(mapping[key] as string | undefined) ?? ""}
        required={required}
        disabled={busy}
        onChange={(e) => set({ [key]: e.currentTarget.value || undefined })}
        data-testid={`mapping-${key}`}
      >
        <option value="">{required ? "Choose…" : "— none —"}</option>
        {layout.header.map((h) => <option key={h} value={h}>{h}</option>)}
      </select>
    </label>
  );
  const used = new Map<string, string>();
  for (const key of ["date", "amount", "debit", "credit", "description", "balance", "currency"] as const) {
    const name = mapping[key];
    if (name) used.set(name, key);
  }
  return (
    <fieldset class="bank-mapping" data-testid="bank-mapping" disabled={busy}>
      <legend>Columns of the statement</legend>
      <p class="muted">
        Detected from the file's first lines. Check each one against the rows below and change what is wrong.
      </p>
      <div class="form-grid">
        {column("date", "Date", true)}
        <label class="field">
          <span>Date format</span>
          <select
            name="mapping-dateFormat"
            value={mapping.dateFormat}
            onChange={(e) => set({ dateFormat: e.currentTarget.value as BankMapping["dateFormat"] })}
            data-testid="mapping-dateFormat"
          >
            {BANK_DATE_FORMATS.map((f) => <option key={f} value={f}>{f}</option>)}
          </select>
        </label>
        <label class="field">
          <span>Amounts in</span>
          <select
            name="mapping-amounts"
            value={split ? "split" : "one"}
            onChange={(e) =>
              e.currentTarget.value === "split"
                ? set({ amount: undefined, debit: mapping.debit ?? "", credit: mapping.credit ?? "" })
                : set({
                  amount: mapping.amount ?? layout.header[0] ?? "",
                  debit: undefined,
                  credit: undefined,
                })}
            data-testid="mapping-amounts"
          >
            <option value="one">One amount column (negative: money out)</option>
            <option value="split">Debit and credit columns</option>
          </select>
        </label>
        {split ? column("debit", "Debit (money out)", true) : column("amount", "Amount", true)}
        {split && column("credit", "Credit (money in)", true)}
        {OPTIONAL.map(([key, label]) => column(key, label, false))}
        <label class="field">
          <span>Decimal separator</span>
          <select
            name="mapping-decimal"
            value={mapping.decimal}
            onChange={(e) => set({ decimal: e.currentTarget.value as BankMapping["decimal"] })}
            data-testid="mapping-decimal"
          >
            <option value=".">Point 1234.56</option>
            <option value=",">Comma 1234,56</option>
          </select>
        </label>
        <label class="field">
          <span>Delimiter</span>
          <select
            name="mapping-delimiter"
            value={mapping.delimiter}
            onChange={(e) => onDelimiter(e.currentTarget.value as BankMapping["delimiter"])}
            data-testid="mapping-delimiter"
          >
            {DELIMITERS.map((d) => <option key={d.label} value={d.value}>{d.label}</option>)}
          </select>
        </label>
      </div>
      <div class="table-wrap compact">
        <table class="preview" data-testid="bank-sample">
          <caption class="sr-only">The first rows of the statement</caption>
          <thead>
            <tr>
              {layout.header.map((h, i) => (
                <th key={i} data-mapped={used.get(h)}>
                  {h}
                  {used.has(h) && <span class="mapped-as">{used.get(h)}</span>}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {layout.sample.map((row, r) => (
              <tr key={r}>
                {layout.header.map((_, i) => <td key={i}>{row[i] ?? ""}</td>)}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </fieldset>
  );
}
