import assert from "node:assert/strict";
import {
  GROWTH_PANELS,
  growthSteps,
  PANELS,
  parseScaleLines,
  renderScaleChart,
  renderScaleTable,
} from "./scale_chart.ts";

function line(step: number, nodes: number, listings: number, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    bench: "scale",
    step,
    nodes,
    listings,
    propagation: { p50Ms: 40 * step, p95Ms: 90 * step },
    atRest: {
      cpuMsPerNodePerMin: 120.5,
      bytesPerNodePerMin: 20_480,
      repairChecksPerNodePerMin: 7,
      dhtLookupsPerNodePerMin: 5,
      datasetsCheckedPerNode: 6,
      cpuMsPerCheck: 17.2,
    },
    underLoad: {
      cpuMsPerNodePerMin: 300,
      bytesPerNodePerMin: 81_920,
      repairChecksPerNodePerMin: 9,
      dhtLookupsPerNodePerMin: 9,
      cpuMsPerCheck: 33,
    },
    memory: { perNodeMiB: 30, diskMiBPerNode: 4 },
    datasets: 5,
    datasetsReplicated: 4,
    lateJoin: { syncMs: 2500 },
    dht: { p50Ms: 12, p95Ms: 33 },
    churn: { restoreP50Ms: 61_000, restoreP95Ms: null },
    machine: { cpu: "Test CPU <x>", cores: 2, deno: "2.9.6" },
    ...extra,
  });
}

Deno.test("parseScaleLines() keeps scale lines without an error, in the order given", () => {
  const text = [
    line(2, 25, 1000),
    "[bench] progress that is not JSON",
    JSON.stringify({ bench: "gossip", p50Ms: 3 }),
    line(3, 50, 1000, { error: "Timed out" }),
    "{not json",
    line(1, 10, 1000),
  ].join("\n");
  const lines = parseScaleLines(text);
  assert.deepEqual(lines.map((l) => l.step), [2, 1]);
});

Deno.test("renderScaleChart() draws every panel and step, values in the panel's unit, and escapes text", () => {
  const svg = renderScaleChart(parseScaleLines([line(1, 10, 1000), line(2, 10, 10_000)].join("\n")));
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  for (const panel of PANELS) assert.ok(svg.includes(panel.title), panel.title);
  assert.ok(svg.includes(">10 × 1k<") && svg.includes(">10 × 10k<"));
  assert.ok(svg.includes("Test CPU &lt;x&gt;"), "the machine is named, escaped");
  assert.ok(!svg.includes("<x>"));
  // 20,480 bytes per minute is drawn as 20.0 KiB; 2,500 ms of sync as 2.50 s; 61,000 ms as 61.0 s.
  assert.ok(svg.includes(">20.0<") && svg.includes(">2.50<") && svg.includes(">61.0<"));
  assert.ok(!svg.includes(">(saturated)<"), "no step was saturated");
  // A missing figure (no p95 of restores) is a dash, not a bar of height 0.
  assert.ok(svg.includes(">—<"));
  const bars = svg.match(/<rect class="bar" /g) ?? [];
  const drawn = PANELS.reduce((n, p) => n + p.series.length, 0) * 2 - 2; // two restore p95s are missing
  assert.equal(bars.length, drawn);
});

Deno.test("renderScaleChart() marks the steps whose process was saturated at rest", () => {
  const base = JSON.parse(line(1, 10, 1000));
  const svg = renderScaleChart([{ ...base, atRest: { ...base.atRest, saturated: true } }]);
  assert.equal(svg.match(/>\(saturated\)</g)?.length, PANELS.length);
});

Deno.test("renderScaleChart() refuses to draw nothing", () => {
  assert.throws(() => renderScaleChart([]), RangeError);
});

Deno.test("renderScaleTable() writes a row per step with units, a late joiner that did not finish, and the machine", () => {
  const table = renderScaleTable(parseScaleLines([
    line(1, 10, 1000),
    line(2, 10, 5000, { lateJoin: { syncMs: null, listings: 256, of: 5063 } }),
  ].join("\n")));
  const rows = table.split("\n").filter((r) => r.startsWith("| 10 × "));
  assert.equal(rows.length, 2);
  assert.ok(rows[0].includes("| 40 / 90 ms |") && rows[0].includes("| 20 / 80 KiB/min |"), rows[0]);
  assert.ok(rows[0].includes("| 2.5 s |") && rows[0].includes("61.0 / — s"), rows[0]);
  assert.ok(rows[0].includes("| 7.0/min, 5.0 by lookup (6) |"), rows[0]);
  assert.ok(rows[1].includes("not done (256 of 5,063)"), rows[1]);
  const unjoined = renderScaleTable([
    {
      ...JSON.parse(line(1, 50, 100)),
      lateJoin: { syncMs: null, listings: 0, of: 162, error: "could not join" },
    },
  ]);
  assert.ok(unjoined.includes("| could not join |"), "a late joiner that could not connect is named so");
  assert.ok(rows[0].includes("| 4 of 5 |"), "new datasets at 3 holders");
  assert.ok(!rows[0].includes("saturated"));
  const saturated = renderScaleTable([{ ...JSON.parse(line(1, 10, 1000)), atRest: { saturated: true } }]);
  assert.ok(saturated.includes("| 10 × 1k (one core saturated) |"), saturated);
  const peers = renderScaleTable([{ ...JSON.parse(line(1, 25, 100)), config: { targetPeers: 30 } }]);
  assert.ok(peers.includes("| 25 × 100 (30 peers) |"), "a step with other connection limits is named so");
  assert.ok(table.includes("Measured on Test CPU <x>, 2 cores, Deno 2.9.6"));
});

Deno.test("renderScaleChart() draws at-rest cost against listings held for the node count with the most steps", () => {
  const lines = parseScaleLines([
    line(1, 10, 10_000, { listingsHeld: 10_012 }),
    line(2, 25, 1000, { listingsHeld: 1011 }),
    line(3, 10, 1000, { listingsHeld: 1012 }),
    line(4, 10, 100_000, {
      listingsHeld: 100_000,
      atRest: { cpuMsPerNodePerMin: 900, bytesPerNodePerMin: 4096, saturated: true },
    }),
  ].join("\n"));
  assert.deepEqual(growthSteps(lines).map((l) => l.step), [3, 1, 4], "10 nodes, by listings held");
  const svg = renderScaleChart(lines);
  for (const panel of [...GROWTH_PANELS, ...PANELS]) assert.ok(svg.includes(panel.title), panel.title);
  assert.equal(svg.match(/<circle /g)?.length, 3 * GROWTH_PANELS.length, "a point per step and panel");
  assert.equal(
    svg.match(/stroke-dasharray/g)?.length,
    GROWTH_PANELS.length,
    "one proportional line per panel",
  );
  assert.ok(svg.includes(">1.01k<") && svg.includes(">10.0k<") && svg.includes(">100k<"), "x labels");
  assert.ok(svg.includes(">900<") && svg.includes(">4.00<"), "the values, bytes in KiB");
  assert.ok(svg.includes(">orange: one core saturated<"));
  // Without listings held (lines of an older bench), no growth panel.
  assert.ok(!renderScaleChart(parseScaleLines(line(1, 10, 1000))).includes(GROWTH_PANELS[0].title));
});
