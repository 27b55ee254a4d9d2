/**
 * Draws the JSON lines of `deno task bench scale` as one SVG (plain text, no
 * library): a panel per figure, a bar per step (labelled `nodes × listings`),
 * the value written above each bar, and the machine under the title.
 *
 *     deno task bench scale > scale.jsonl
 *     deno run -A scripts/bench/lib/scale_chart.ts scale.jsonl > docs/scale.svg
 *     deno run -A scripts/bench/lib/scale_chart.ts --markdown scale.jsonl   # the README's table
 *
 * Lines with an `error`, or that are not scale lines, are left out.
 */

type Json = Record<string, unknown>;

/** One panel: a title, a unit, and the series read from each line. */
interface Panel {
  title: string;
  unit: string;
  series: { label: string; path: string }[];
}

export const PANELS: Panel[] = [
  {
    title: "Announcement propagation to every node",
    unit: "ms",
    series: [{ label: "p50", path: "propagation.p50Ms" }, { label: "p95", path: "propagation.p95Ms" }],
  },
  {
    title: "CPU per node (process CPU / nodes)",
    unit: "ms per minute",
    series: [{ label: "at rest", path: "atRest.cpuMsPerNodePerMin" }, {
      label: "under load",
      path: "underLoad.cpuMsPerNodePerMin",
    }],
  },
  {
    title: "Replication work per node at rest",
    unit: "checks and DHT lookups per minute; datasets",
    series: [
      { label: "checks", path: "atRest.repairChecksPerNodePerMin" },
      { label: "lookups", path: "atRest.dhtLookupsPerNodePerMin" },
      { label: "datasets", path: "atRest.datasetsCheckedPerNode" },
    ],
  },
  {
    title: "Bytes sent per node",
    unit: "KiB per minute",
    series: [{ label: "at rest", path: "atRest.bytesPerNodePerMin" }, {
      label: "under load",
      path: "underLoad.bytesPerNodePerMin",
    }],
  },
  {
    title: "Memory per node",
    unit: "MiB",
    series: [{ label: "RSS growth", path: "memory.perNodeMiB" }, {
      label: "data dir",
      path: "memory.diskMiBPerNode",
    }],
  },
  {
    title: "Process CPU per replication check (a provider count)",
    unit: "ms",
    series: [{ label: "at rest", path: "atRest.cpuMsPerCheck" }, {
      label: "under load",
      path: "underLoad.cpuMsPerCheck",
    }],
  },
  {
    title: "Late joiner's catalog sync",
    unit: "s",
    series: [{ label: "sync time", path: "lateJoin.syncMs" }],
  },
  {
    title: "DHT provider lookup",
    unit: "ms",
    series: [{ label: "p50", path: "dht.p50Ms" }, { label: "p95", path: "dht.p95Ms" }],
  },
  {
    title: "Back to 3 replicas under 10 %/min churn",
    unit: "s",
    series: [{ label: "p50", path: "churn.restoreP50Ms" }, { label: "p95", path: "churn.restoreP95Ms" }],
  },
];

/** `obj.a.b`, or undefined. */
function get(obj: unknown, path: string): unknown {
  let v = obj;
  for (const key of path.split(".")) v = (v as Json | undefined)?.[key];
  return v;
}

/** The value drawn for a series: converted to the panel's unit; null when missing. */
function valueOf(line: Json, panel: Panel, path: string): number | null {
  const v = get(line, path);
  if (typeof v !== "number" || !Number.isFinite(v)) return null;
  if (panel.unit === "s") return v / 1000;
  if (panel.unit.startsWith("KiB")) return v / 1024;
  return v;
}

const COLOURS = ["#3b6ea5", "#e08a2c"];
const WIDTH = 1040;
const PANEL_W = 500;
const PANEL_H = 230;
const GAP = 20;

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function format(v: number): string {
  if (v >= 100) return Math.round(v).toLocaleString("en-US");
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function stepLabel(line: Json): string {
  const listings = Number(line.listings);
  const l = listings >= 1000 ? `${listings / 1000}k` : String(listings);
  const peers = get(line, "config.targetPeers");
  return `${line.nodes} × ${l}${typeof peers === "number" ? ` (${peers} peers)` : ""}`;
}

/** The scale lines of `text` (JSON lines) in the order given (several runs may follow each other); others are skipped. */
export function parseScaleLines(text: string): Json[] {
  const out: Json[] = [];
  for (const raw of text.split("\n")) {
    if (!raw.trim().startsWith("{")) continue;
    let line: Json;
    try {
      line = JSON.parse(raw);
    } catch {
      continue;
    }
    if (line.bench === "scale" && line.error === undefined) out.push(line);
  }
  return out;
}

function renderPanel(panel: Panel, lines: Json[], x0: number, y0: number): string {
  const parts: string[] = [];
  const plotX = x0 + 50, plotY = y0 + 40, plotW = PANEL_W - 60, plotH = PANEL_H - 80;
  const values = lines.map((l) => panel.series.map((s) => valueOf(l, panel, s.path)));
  const max = Math.max(0, ...values.flat().filter((v): v is number => v !== null));
  const top = max > 0 ? max * 1.15 : 1;
  parts.push(
    `<text x="${x0}" y="${y0 + 16}" class="title">${escapeXml(panel.title)}</text>`,
    `<text x="${x0}" y="${y0 + 31}" class="unit">${escapeXml(panel.unit)}</text>`,
    `<line x1="${plotX}" y1="${plotY + plotH}" x2="${plotX + plotW}" y2="${plotY + plotH}" class="axis"/>`,
  );
  panel.series.forEach((s, i) => {
    const lx = x0 + PANEL_W - 170 + i * 85;
    parts.push(
      `<rect x="${lx}" y="${y0 + 22}" width="10" height="10" fill="${COLOURS[i]}"/>`,
      `<text x="${lx + 14}" y="${y0 + 31}" class="legend">${escapeXml(s.label)}</text>`,
    );
  });
  const slot = plotW / Math.max(1, lines.length);
  const barW = Math.min(36, (slot - 10) / panel.series.length);
  lines.forEach((line, j) => {
    const cx = plotX + slot * j + slot / 2;
    values[j].forEach((v, i) => {
      const bx = cx - (barW * panel.series.length) / 2 + i * barW;
      if (v === null) {
        parts.push(`<text x="${bx + barW / 2}" y="${plotY + plotH - 4}" class="value">—</text>`);
        return;
      }
      const h = (v / top) * plotH;
      parts.push(
        `<rect class="bar" x="${bx.toFixed(1)}" y="${(plotY + plotH - h).toFixed(1)}" width="${
          (barW - 2).toFixed(1)
        }" ` +
          `height="${h.toFixed(1)}" fill="${COLOURS[i]}"><title>${
            escapeXml(`${stepLabel(line)}: ${s(v)}`)
          }</title></rect>`,
        `<text x="${(bx + barW / 2 - 1).toFixed(1)}" y="${
          (plotY + plotH - h - 4).toFixed(1)
        }" class="value">${format(v)}</text>`,
      );
    });
    parts.push(`<text x="${cx.toFixed(1)}" y="${plotY + plotH + 16}" class="step">${stepLabel(line)}</text>`);
    if (get(line, "atRest.saturated") === true) {
      parts.push(
        `<text x="${cx.toFixed(1)}" y="${plotY + plotH + 29}" class="step">(saturated)</text>`,
      );
    }
  });
  return parts.join("\n");
  function s(v: number): string {
    return `${format(v)} ${panel.unit}`;
  }
}

/** The figures drawn against the listings a node holds (log-log, one point per step of the same node count). */
export const GROWTH_PANELS = [
  {
    title: "CPU per node at rest against listings held",
    unit: "ms per minute",
    path: "atRest.cpuMsPerNodePerMin",
  },
  {
    title: "Bytes sent per node at rest against listings held",
    unit: "KiB per minute",
    path: "atRest.bytesPerNodePerMin",
  },
];

/**
 * The steps drawn against listings held: those of the node count with the
 * most steps (ties: the smaller count), ordered by the listings their nodes held.
 */
export function growthSteps(lines: Json[]): Json[] {
  const byNodes = new Map<number, Json[]>();
  for (const l of lines) {
    if (typeof l.listingsHeld !== "number" || !(l.listingsHeld > 0)) continue;
    const n = Number(l.nodes);
    byNodes.set(n, [...(byNodes.get(n) ?? []), l]);
  }
  const best = [...byNodes.entries()].sort((a, b) => b[1].length - a[1].length || a[0] - b[0])[0];
  return (best?.[1] ?? []).sort((a, b) => Number(a.listingsHeld) - Number(b.listingsHeld));
}

/**
 * One log-log panel: `path` against the listings held, the measured points
 * joined, and a dashed line through the first point growing in proportion to
 * the listings (slope 1): points on or below it grow linearly or slower.
 */
function renderGrowthPanel(
  panel: { title: string; unit: string; path: string },
  lines: Json[],
  x0: number,
  y0: number,
): string {
  const parts: string[] = [];
  const plotX = x0 + 60, plotY = y0 + 40, plotW = PANEL_W - 80, plotH = PANEL_H - 80;
  const pseudo: Panel = { title: panel.title, unit: panel.unit, series: [] };
  const points = lines
    .map((l) => ({
      x: Number(l.listingsHeld),
      y: valueOf(l, pseudo, panel.path),
      saturated: get(l, "atRest.saturated") === true,
    }))
    .filter((p): p is { x: number; y: number; saturated: boolean } => p.y !== null && p.y > 0);
  const nodes = lines[0]?.nodes;
  parts.push(
    `<text x="${x0}" y="${y0 + 16}" class="title">${escapeXml(panel.title)}</text>`,
    `<text x="${x0}" y="${y0 + 31}" class="unit">${
      escapeXml(`${panel.unit}, log scales; ${nodes ?? "?"} nodes; dashed: in proportion to listings`)
    }</text>`,
    `<line x1="${plotX}" y1="${plotY + plotH}" x2="${plotX + plotW}" y2="${plotY + plotH}" class="axis"/>`,
    `<line x1="${plotX}" y1="${plotY}" x2="${plotX}" y2="${plotY + plotH}" class="axis"/>`,
  );
  if (points.length === 0) return parts.join("\n");
  const first = points[0], last = points.at(-1)!;
  const xLo = Math.log10(first.x) - 0.2, xHi = Math.log10(last.x) + 0.2;
  const ys = points.map((p) => p.y);
  const yLo = Math.log10(Math.min(...ys)) - 0.3;
  const yHi = Math.max(Math.log10(Math.max(...ys)), Math.log10(first.y * last.x / first.x)) + 0.2;
  const px = (x: number) => plotX + ((Math.log10(x) - xLo) / (xHi - xLo || 1)) * plotW;
  const py = (y: number) => plotY + plotH - ((Math.log10(y) - yLo) / (yHi - yLo || 1)) * plotH;
  parts.push(
    `<line x1="${px(first.x).toFixed(1)}" y1="${py(first.y).toFixed(1)}" x2="${px(last.x).toFixed(1)}" ` +
      `y2="${py(first.y * last.x / first.x).toFixed(1)}" stroke="#999" stroke-dasharray="5 4"/>`,
    `<polyline fill="none" stroke="${COLOURS[0]}" stroke-width="2" points="${
      points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(" ")
    }"/>`,
  );
  for (const p of points) {
    const label = p.x >= 1000 ? `${format(p.x / 1000)}k` : String(p.x);
    parts.push(
      `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="4" fill="${
        p.saturated ? COLOURS[1] : COLOURS[0]
      }">` +
        `<title>${escapeXml(`${label} listings held: ${format(p.y)} ${panel.unit}`)}</title></circle>`,
      `<text x="${px(p.x).toFixed(1)}" y="${(py(p.y) - 8).toFixed(1)}" class="value">${format(p.y)}</text>`,
      `<text x="${px(p.x).toFixed(1)}" y="${plotY + plotH + 16}" class="step">${label}</text>`,
    );
  }
  if (points.some((p) => p.saturated)) {
    parts.push(
      `<text x="${plotX + plotW}" y="${plotY + plotH + 29}" class="note">orange: one core saturated</text>`,
    );
  }
  return parts.join("\n");
}

/** The SVG of `lines` (from {@link parseScaleLines}). Throws a `RangeError` when there is no line to draw. */
export function renderScaleChart(lines: Json[]): string {
  if (lines.length === 0) {
    throw new RangeError("Cannot draw the scale chart: no scale lines without an error");
  }
  const growth = growthSteps(lines);
  const count = PANELS.length + (growth.length > 0 ? GROWTH_PANELS.length : 0);
  const rows = Math.ceil(count / 2);
  const height = 70 + rows * (PANEL_H + GAP);
  const m = lines[0].machine as Json | undefined;
  const machineText = m
    ? `${m.cpu}, ${m.cores} cores, Deno ${m.deno}; nodes × listings per step, each in its own process; (saturated): it used a whole core at rest`
    : "nodes × listings per step";
  const at = (i: number) =>
    [10 + (i % 2) * (PANEL_W + GAP), 60 + Math.floor(i / 2) * (PANEL_H + GAP)] as const;
  const panels = [
    ...(growth.length > 0 ? GROWTH_PANELS.map((p, i) => renderGrowthPanel(p, growth, ...at(i))) : []),
    ...PANELS.map((p, i) => renderPanel(p, lines, ...at(i + (growth.length > 0 ? GROWTH_PANELS.length : 0)))),
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
    `font-family="system-ui, sans-serif">`,
    `<style>.title{font-size:14px;font-weight:600}.unit,.legend,.step{font-size:11px;fill:#555}` +
    `.step{text-anchor:middle}.value{font-size:10px;text-anchor:middle;fill:#222}.axis{stroke:#999}` +
    `.note{font-size:11px;fill:#555;text-anchor:end}` +
    `.head{font-size:17px;font-weight:700}.sub{font-size:12px;fill:#555}</style>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="24" class="head">deno task bench scale: what a node costs as the network grows</text>`,
    `<text x="10" y="44" class="sub">${escapeXml(machineText)}</text>`,
    ...panels,
    `</svg>`,
    "",
  ].join("\n");
}

/** `v` with thousands separators and `digits` decimals, or "—" when it is not a number. */
function num(v: unknown, digits = 0): string {
  if (typeof v !== "number" || !Number.isFinite(v)) return "—";
  return v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** The README's table of `lines`: one row per step, then the machine. */
export function renderScaleTable(lines: Json[]): string {
  if (lines.length === 0) {
    throw new RangeError("Cannot write the scale table: no scale lines without an error");
  }
  const rows = [
    "| nodes × listings | propagation p50 / p95 | DHT lookup p95 | CPU per node at rest / under load | sent per node at rest / under load | replication checks per node at rest, by DHT lookup (datasets looked after) | RSS per node | late joiner's sync | new datasets at 3 holders | back to 3 replicas p50 / p95 |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const l of lines) {
    const g = (path: string) => get(l, path);
    const kib = (path: string) => typeof g(path) === "number" ? (g(path) as number) / 1024 : null;
    const s = (path: string) => typeof g(path) === "number" ? (g(path) as number) / 1000 : null;
    const sync = typeof g("lateJoin.error") === "string"
      ? "could not join"
      : g("lateJoin.syncMs") === null
      ? `not done (${num(g("lateJoin.listings"))} of ${num(g("lateJoin.of"))})`
      : `${num(s("lateJoin.syncMs"), 1)} s`;
    const checks = `${num(g("atRest.repairChecksPerNodePerMin"), 1)}/min, ${
      num(g("atRest.dhtLookupsPerNodePerMin"), 1)
    } by lookup (${num(g("atRest.datasetsCheckedPerNode"))})`;
    const saturated = g("atRest.saturated") === true ? " (one core saturated)" : "";
    const replicated = `${num(g("datasetsReplicated"))} of ${num(g("datasets"))}`;
    rows.push(
      `| ${stepLabel(l)}${saturated} | ${num(g("propagation.p50Ms"))} / ${
        num(g("propagation.p95Ms"))
      } ms | ` +
        `${num(g("dht.p95Ms"), 1)} ms | ${num(g("atRest.cpuMsPerNodePerMin"))} / ` +
        `${num(g("underLoad.cpuMsPerNodePerMin"))} ms/min | ${num(kib("atRest.bytesPerNodePerMin"))} / ` +
        `${num(kib("underLoad.bytesPerNodePerMin"))} KiB/min | ${checks} | ` +
        `${num(g("memory.perNodeMiB"))} MiB | ${sync} | ${replicated} | ${
          num(s("churn.restoreP50Ms"), 1)
        } / ` +
        `${num(s("churn.restoreP95Ms"), 1)} s (${num(g("churn.notRestored"))} not back) |`,
    );
  }
  const m = lines[0].machine as Json | undefined;
  const ref = get(lines[0], "reference.oneNodeProcess.rssMiB");
  rows.push(
    "",
    `Measured on ${m?.cpu ?? "?"}, ${m?.cores ?? "?"} cores, Deno ${m?.deno ?? "?"}; each step in its own ` +
      `process with all of its nodes (one node alone in its own process: ${num(ref)} MiB RSS).`,
  );
  return rows.join("\n") + "\n";
}

if (import.meta.main) {
  const path = Deno.args.find((a) => !a.startsWith("--"));
  const text = path ? await Deno.readTextFile(path) : await new Response(Deno.stdin.readable).text();
  const render = Deno.args.includes("--markdown") ? renderScaleTable : renderScaleChart;
  try {
    await Deno.stdout.write(new TextEncoder().encode(render(parseScaleLines(text))));
  } catch (err) {
    console.error((err as Error).message);
    Deno.exit(1);
  }
}
