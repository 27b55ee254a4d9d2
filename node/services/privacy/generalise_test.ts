import assert from "node:assert/strict";
import fc from "fast-check";
import type { FieldSpec } from "../../../protocol/sources.ts";
import {
  fixedLevels,
  formatWidth,
  generaliseQuasi,
  ladderAtLeast,
  parseLevel,
  rangeLevel,
  rangeLevels,
  toFinest,
  widen,
} from "./generalise.ts";

const spec = (generalise: FieldSpec["generalise"], type: FieldSpec["type"] = "time"): FieldSpec => ({
  name: "f",
  type,
  role: "quasi",
  generalise,
  label: "f",
});
const render = (s: FieldSpec, label: string, value: unknown) =>
  parseLevel(s, label).render(toFinest(s, value, "row 1"));

Deno.test("times render as ISO strings at the hour, day and month (UTC)", () => {
  const t = Date.parse("2024-03-05T14:59:59.999Z");
  assert.deepEqual(fixedLevels(spec("hour")).map((l) => l.label), ["hour", "day", "month"]);
  assert.deepEqual(fixedLevels(spec("day")).map((l) => l.label), ["day", "month"]);
  assert.deepEqual(fixedLevels(spec("month")).map((l) => l.label), ["month"]);
  assert.equal(render(spec("hour"), "hour", t), "2024-03-05T14:00Z");
  assert.equal(render(spec("hour"), "day", t), "2024-03-05");
  assert.equal(render(spec("hour"), "month", t), "2024-03");
  assert.equal(render(spec("day"), "day", t), "2024-03-05");
  assert.equal(render(spec("month"), "month", Date.parse("1969-12-31T23:00:00Z")), "1969-12");
  assert.equal(render(spec("hour"), "hour", null), null);
  assert.throws(() => parseLevel(spec("day"), "hour"), /Invalid level "hour"/);
  assert.throws(() => toFinest(spec("hour"), 1e17, "row 3"), /row 3: field "f" is not a time/);
});

Deno.test("places render as the south-west corner of their 0.1°, 1° and 10° cell", () => {
  const s = spec("region", "place");
  assert.deepEqual(fixedLevels(s).map((l) => l.label), ["region 0.1°", "region 1°", "region 10°"]);
  assert.equal(render(s, "region 0.1°", "48.137154,11.576124"), "48.1,11.5");
  assert.equal(render(s, "region 1°", "48.137154,11.576124"), "48,11");
  assert.equal(render(s, "region 10°", "48.137154,11.576124"), "40,10");
  assert.equal(render(s, "region 0.1°", "-33.8688, 151.2093"), "-33.9,151.2");
  assert.equal(render(s, "region 1°", "-0.05,-179.99"), "-1,-180");
  assert.equal(render(s, "region 10°", "-0.05,0"), "-10,0");
  assert.equal(render(s, "region 0.1°", "0.3,0.7"), "0.3,0.7", "no float drift below the boundary");
  for (const bad of ["48.1", "91,0", "0,181", "a,b", ",", "48.1,11.5,3", 48]) {
    assert.throws(() => toFinest(s, bad, "row 2"), /row 2: field "f" is not a place/);
  }
});

Deno.test("the cells of a place nest: its 1° cell contains its 0.1° cell, its 10° cell its 1° cell", () => {
  const s = spec("region", "place");
  fc.assert(
    fc.property(
      fc.double({ min: -90, max: 90, noNaN: true }),
      fc.double({ min: -180, max: 180, noNaN: true }),
      (lat, lng) => {
        const [fine, mid, coarse] = ["region 0.1°", "region 1°", "region 10°"].map((l) =>
          (render(s, l, `${lat},${lng}`) as string).split(",").map(Number)
        );
        for (let i = 0; i < 2; i++) {
          assert.ok(mid[i] <= fine[i] && fine[i] < mid[i] + 1);
          assert.ok(coarse[i] <= mid[i] && mid[i] < coarse[i] + 10);
          assert.ok(fine[i] <= [lat, lng][i] + 1e-6 && [lat, lng][i] < fine[i] + 0.1 + 1e-6);
        }
      },
    ),
  );
});

Deno.test("numbers fall in the [lo, hi) bucket of a 1-2-5 ladder width", () => {
  const s = spec("range", "number");
  assert.equal(render(s, "range 0.2", 0.6), "0.6–0.8", "0.6 / 0.2 is 3, not 2.999…");
  assert.equal(render(s, "range 0.2", 0.59), "0.4–0.6");
  assert.equal(render(s, "range 50", 149.99), "100–150");
  assert.equal(render(s, "range 10", -0.01), "-10–0");
  assert.equal(render(s, "range 10", -0), "0–10");
  assert.equal(render(s, "range 0.05", 1.2345), "1.20–1.25");
  assert.equal(render(s, "range 0.05", 1.15), "1.15–1.20");
  assert.equal(render(s, "range 0.1", 0.7), "0.7–0.8");
  assert.equal(render(s, "range 0.000001", 0.000003), "0.000003–0.000004");
  assert.throws(() => parseLevel(s, "range 3"), /Invalid level "range 3"/);
  assert.throws(() => parseLevel(s, "range 0.20"), /Invalid level/);
  assert.throws(() => toFinest(s, Infinity, "row 1"), /not a finite number/);
  fc.assert(
    fc.property(
      fc.double({ min: -1e9, max: 1e9, noNaN: true }),
      fc.constantFrom(0.1, 0.2, 0.5, 1, 2, 5, 100),
      (x, w) => {
        const [lo, hi] = (rangeLevel(ladderAtLeast(w)).render(x) as string).split(/–/).map(Number);
        assert.ok(Math.abs(hi - lo - w) < 1e-6 * Math.max(1, Math.abs(lo)));
        // Within float precision: a bound may be off by a few ulps of x.
        const ulps = 1e-12 * Math.max(1, Math.abs(x));
        assert.ok(lo <= x + ulps && x < hi + ulps, `${x} not in [${lo}, ${hi})`);
      },
    ),
    { numRuns: 5000 },
  );
});

Deno.test("the ladder goes 1, 2, 5, 10 and its widths round-trip through their labels", () => {
  assert.deepEqual(ladderAtLeast(0.3), { m: 5, e: -1 });
  assert.deepEqual(ladderAtLeast(0.2), { m: 2, e: -1 });
  assert.deepEqual(ladderAtLeast(7), { m: 1, e: 1 });
  assert.deepEqual(ladderAtLeast(1e-9), { m: 1, e: -6 });
  assert.deepEqual(widen({ m: 5, e: 0 }), { m: 1, e: 1 });
  for (let w = { m: 1, e: -6 } as ReturnType<typeof widen>; w.e < 25; w = widen(w)) {
    assert.equal(
      parseLevel(spec("range", "number"), `range ${formatWidth(w)}`).label,
      `range ${formatWidth(w)}`,
    );
  }
});

Deno.test("rangeLevels() starts near a fiftieth of the middle 90 % and widens until one bucket spans the data", () => {
  const counts = new Map<number, number>();
  for (let i = 0; i <= 100; i++) counts.set(i * 10, 1); // 0 … 1000: middle 90 % spans 900
  assert.deepEqual(rangeLevels(counts).map((l) => l.label), [
    "range 20",
    "range 50",
    "range 100",
    "range 200",
    "range 500",
    "range 1000",
  ]);
  assert.deepEqual(rangeLevels(new Map([[3, 10]])).map((l) => l.label), ["range 1"], "integers: at least 1");
  assert.deepEqual(rangeLevels(new Map([[0.37, 1], [0.41, 1]])).map((l) => l.label), [
    "range 0.001",
    "range 0.002",
    "range 0.005",
    "range 0.01",
    "range 0.02",
    "range 0.05",
  ]);
  const huge = rangeLevels(new Map([[-Number.MAX_VALUE, 1], [Number.MAX_VALUE, 1]]));
  assert.ok(huge.length <= 10 && huge.length >= 1);
});

Deno.test("generaliseQuasi() applies a report's levels to a row as the released table does", () => {
  const fields: FieldSpec[] = [
    { name: "at", type: "time", role: "quasi", generalise: "hour", label: "" },
    { name: "where", type: "place", role: "quasi", generalise: "region", label: "" },
    { name: "what", type: "text", role: "plain", label: "" },
    { name: "country", type: "category", role: "quasi", generalise: "none", label: "" },
  ];
  const row = { at: Date.parse("2024-03-05T14:10:00Z"), where: "48.13,11.57", what: "x", country: "DE" };
  assert.deepEqual(
    generaliseQuasi(fields, { at: "day", where: "region 1°", country: "none" }, row),
    { at: "2024-03-05", where: "48,11", country: "DE" },
  );
  assert.throws(() => generaliseQuasi(fields, { at: "day" }, row), /no level for field "where"/);
});
