/**
 * `visit:country_name`: English country names of ISO 3166-1 alpha-2 codes,
 * from the runtime's own CLDR data (`Intl.DisplayNames`), so names need no
 * table of their own: queries group and filter by the stored code and
 * label rows with the name.
 *
 * ```ts
 * countryName("DE"); // "Germany"
 * countryCodesWhere((name) => name.includes("Island")); // ["AX", "BV", …]
 * ```
 */

let names: Map<string, string> | undefined;

/** Every assigned alpha-2 code with its English name. */
function allNames(): Map<string, string> {
  if (names) return names;
  const display = new Intl.DisplayNames(["en"], { type: "region", fallback: "code" });
  names = new Map();
  for (let a = 65; a <= 90; a++) {
    for (let b = 65; b <= 90; b++) {
      const code = String.fromCharCode(a, b);
      const name = display.of(code);
      if (name !== undefined && name !== code && code !== "ZZ") names.set(code, name);
    }
  }
  return names;
}

/** The English name of a country code (the code itself when unknown). */
export function countryName(code: string): string {
  return allNames().get(code) ?? code;
}

/** The codes whose name satisfies `test`. */
export function countryCodesWhere(test: (name: string) => boolean): string[] {
  return [...allNames()].filter(([, name]) => test(name)).map(([code]) => code);
}
