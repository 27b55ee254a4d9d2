import assert from "node:assert/strict";
import {
  SOURCE_KIND_INFO,
  SOURCE_KINDS,
  type SourceKind,
  type SourceRow,
} from "../../../../protocol/sources.ts";
import { MAIN_FIXTURES } from "../../../../scripts/fixtures/sources.ts";
import { IMPORTERS } from "./mod.ts";
import { importFixture } from "./testing.ts";

Deno.test("IMPORTERS has one importer for every source kind, of that kind", () => {
  assert.deepEqual(Object.keys(IMPORTERS).sort(), [...SOURCE_KINDS].sort());
  for (const kind of SOURCE_KINDS) assert.equal(IMPORTERS[kind].kind, kind);
});

const UNIT = { hour: 3_600_000, day: 86_400_000, month: 30 * 86_400_000 } as const;

/** A coarse stand-in for the privacy service's generalisation: enough to see that the fixtures are dense. */
function classOf(kind: SourceKind, row: SourceRow): string {
  return SOURCE_KIND_INFO[kind].fields.filter((f) => f.role === "quasi").map((f) => {
    const v = row[f.name];
    if (v === null) return "-";
    switch (f.generalise) {
      case "hour":
      case "day":
      case "month":
        return String(Math.floor((v as number) / UNIT[f.generalise]));
      case "region":
        return (v as string).split(",").map((c) => Math.round(Number(c) * 10)).join(",");
      case "range": {
        const a = Math.abs(v as number);
        const bounds = [1, 2, 5].flatMap((m) => [0, 1, 2, 3, 4, 5].map((e) => m * 10 ** e)).sort((x, y) =>
          x - y
        );
        return `${Math.sign(v as number)}:${bounds.filter((b) => b <= a).at(-1) ?? 0}`;
      }
      default:
        return String(v);
    }
  }).join("|");
}

Deno.test("every main fixture has at least 300 rows, most of them in classes of 5 or more", async () => {
  for (const [kind, path] of Object.entries(MAIN_FIXTURES) as [SourceKind, string][]) {
    const rows = await importFixture(kind, path);
    assert.ok(rows.length >= 300, `${kind}: ${rows.length} rows`);
    const sizes = new Map<string, number>();
    for (const row of rows) sizes.set(classOf(kind, row), (sizes.get(classOf(kind, row)) ?? 0) + 1);
    const kept = rows.filter((row) => sizes.get(classOf(kind, row))! >= 5).length;
    assert.ok(kept / rows.length >= 0.9, `${kind}: ${kept} of ${rows.length} rows in classes of 5 or more`);
  }
});
