import assert from "node:assert/strict";
import fc from "fast-check";
import { currencyOf, parseAmount, parseDay, parseDuration, parseNumber, parseTime, quote } from "./values.ts";

Deno.test("parseTime() reads the exports' times as UTC unless they name an offset", () => {
  assert.equal(parseTime("2023-05-01 13:45"), Date.UTC(2023, 4, 1, 13, 45));
  assert.equal(parseTime("2023-05-01T13:45:12Z"), Date.UTC(2023, 4, 1, 13, 45, 12));
  assert.equal(parseTime("2023-05-01T13:45:12.345Z"), Date.UTC(2023, 4, 1, 13, 45, 12, 345));
  assert.equal(parseTime("2019-08-14 21:34:53 +0000 UTC"), Date.UTC(2019, 7, 14, 21, 34, 53));
  assert.equal(parseTime("2019-08-14 21:34:53 +0200"), Date.UTC(2019, 7, 14, 19, 34, 53));
  assert.equal(parseTime("2019-08-14T21:34:53-05:30"), Date.UTC(2019, 7, 15, 3, 4, 53));
  assert.equal(parseTime("2023-05-01"), Date.UTC(2023, 4, 1));
  assert.equal(parseTime("  "), null);
  for (
    const bad of [
      "abc",
      "2023-02-30 10:00",
      "2023-05-01 24:00",
      "2023-13-01",
      "01.05.2023",
      "2023-05-01 10:00 PST",
    ]
  ) {
    assert.equal(parseTime(bad), undefined, bad);
  }
});

Deno.test("parseDay() reads every bank date format, two-digit years and a trailing time", () => {
  const may1 = Date.UTC(2023, 4, 1);
  const cases: [string, Parameters<typeof parseDay>[1]][] = [
    ["2023-05-01", "YYYY-MM-DD"],
    ["01.05.2023", "DD.MM.YYYY"],
    ["1.5.23", "DD.MM.YYYY"],
    ["01/05/2023", "DD/MM/YYYY"],
    ["05/01/2023", "MM/DD/YYYY"],
    ["05/01/23", "MM/DD/YYYY"],
    ["01-05-2023", "DD-MM-YYYY"],
    ["1 May 2023", "D MMM YYYY"],
    ["01-May-2023", "D MMM YYYY"],
    ["1 mai 2023", "D MMM YYYY"],
    ["2023-05-01 13:45:00", "YYYY-MM-DD"],
  ];
  for (const [text, format] of cases) assert.equal(parseDay(text, format), may1, `${text} as ${format}`);
  assert.equal(parseDay("", "DD.MM.YYYY"), null);
  assert.equal(parseDay("13/05/2023", "MM/DD/YYYY"), undefined);
  assert.equal(parseDay("31.04.2023", "DD.MM.YYYY"), undefined);
  assert.equal(parseDay("2023-05-01", "DD.MM.YYYY"), undefined);
  assert.equal(parseDay("1 Foo 2023", "D MMM YYYY"), undefined);
});

Deno.test("parseAmount() reads signs, separators and currency marks", () => {
  const cases: [string, "." | "," | undefined, number | null | undefined][] = [
    ["-12.50", ".", -12.5],
    ["-12,50", ",", -12.5],
    ["12,50-", ",", -12.5],
    ["(12.50)", ".", -12.5],
    ["+7", ".", 7],
    ["1.234,56", ",", 1234.56],
    ["1,234.56", ".", 1234.56],
    ["1 234,56", ",", 1234.56],
    ["1'234.56", ".", 1234.56],
    ["€1,234.00", undefined, 1234],
    ["1.234,00 €", undefined, 1234],
    ["$95.00", undefined, 95],
    ["£29.95", ".", 29.95],
    ["-1.234", ",", -1234],
    ["12.50 DR", ".", -12.5],
    ["12.50 CR", ".", 12.5],
    ["EUR -3.20", ".", -3.2],
    ["", ".", null],
    ["Not Available", ".", null],
    ["12..50", ".", undefined],
    ["1,23,4.00", ".", undefined],
    ["abc", ".", undefined],
    ["12.50", ",", undefined],
  ];
  for (const [text, decimal, expected] of cases) {
    assert.equal(parseAmount(text, decimal), expected, `${text} ${decimal}`);
  }
});

Deno.test("parseAmount() reads back any amount written in either convention", () => {
  fc.assert(fc.property(fc.integer({ min: -1e11, max: 1e11 }), (cents) => {
    const value = cents / 100;
    const [whole, fraction] = Math.abs(value).toFixed(2).split(".");
    const sign = value < 0 ? "-" : "";
    const en = `${sign}${whole.replace(/\B(?=(\d{3})+$)/g, ",")}.${fraction}`;
    const de = `${sign}${whole.replace(/\B(?=(\d{3})+$)/g, ".")},${fraction}`;
    assert.equal(parseAmount(en, "."), value);
    assert.equal(parseAmount(de, ","), value);
    assert.equal(parseAmount(en), value);
    assert.equal(parseAmount(de), value);
  }));
});

Deno.test("parseNumber(), parseDuration(), currencyOf() and quote()", () => {
  assert.equal(parseNumber(" 52.5123 "), 52.5123);
  assert.equal(parseNumber("-0.5"), -0.5);
  assert.equal(parseNumber(""), null);
  assert.equal(parseNumber("north"), undefined);
  assert.equal(parseNumber("0x10"), undefined);
  assert.equal(parseDuration("01:02:03"), 3723);
  assert.equal(parseDuration("0:45"), 45);
  assert.equal(parseDuration("45 min"), undefined);
  assert.equal(currencyOf("€12"), "EUR");
  assert.equal(currencyOf("Betrag (EUR)"), "EUR");
  assert.equal(currencyOf("$1,285.00"), "USD");
  assert.equal(currencyOf("12.50"), null);
  assert.equal(quote("x".repeat(50)), `"${"x".repeat(40)}…"`);
});
