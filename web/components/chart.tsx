/**
 * A line chart as plain SVG, rendered on the server (and re-rendered by the
 * `site_graph` island when the pointer moves): one main series drawn as a
 * line over a soft area, an optional comparison series dashed, horizontal
 * grid lines with round tick values, and a few x labels.
 *
 * ```tsx
 * <LineChart labels={["Mar 14", "Mar 15"]} series={[{ name: "Visitors", values: [3, 5] }]} />
 * ```
 */
export interface ChartSeries {
  name: string;
  values: number[];
  /** Drawn dashed and muted, without an area (the previous period). @default false */
  compare?: boolean;
}

export interface LineChartProps {
  /** One label per point, shown under the x axis (a few of them). */
  labels: string[];
  /** The first series is the main one. */
  series: ChartSeries[];
  /** @default 800 */
  width?: number;
  /** @default 260 */
  height?: number;
  /** Index of the point to mark (hover). @default none */
  highlight?: number | null;
  /** Accessible title. @default "Visitors over time" */
  title?: string;
}

/** Space around the plot for the axis labels. */
export const CHART_PADDING = { top: 16, right: 16, bottom: 28, left: 44 };

/** A round upper bound for the y axis and its tick step (1, 2 or 5 × 10ⁿ). */
export function getNiceScale(max: number, ticks = 4): { max: number; step: number } {
  if (max <= 0) return { max: ticks, step: 1 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const rounded = Math.max(1, step);
  return { max: Math.ceil(max / rounded) * rounded, step: rounded };
}

/** The x coordinate of point `i` of `n` inside a chart `width` wide. */
export function getPointX(i: number, n: number, width: number): number {
  const inner = width - CHART_PADDING.left - CHART_PADDING.right;
  return CHART_PADDING.left + (n <= 1 ? inner / 2 : (inner * i) / (n - 1));
}

export function LineChart(
  { labels, series, width = 800, height = 260, highlight = null, title = "Visitors over time" }:
    LineChartProps,
) {
  const n = labels.length;
  const top = CHART_PADDING.top;
  const bottom = height - CHART_PADDING.bottom;
  const maxValue = Math.max(0, ...series.flatMap((s) => s.values));
  const scale = getNiceScale(maxValue);
  const y = (v: number) => bottom - ((bottom - top) * v) / scale.max;
  const x = (i: number) => getPointX(i, n, width);
  const ticks: number[] = [];
  for (let v = 0; v <= scale.max; v += scale.step) ticks.push(v);
  const labelEvery = Math.max(1, Math.ceil(n / 8));
  const path = (values: number[]) =>
    values.map((v, i) => `${i === 0 ? "M" : "L"}${fmt(x(i))},${fmt(y(v))}`).join("");
  const main = series[0];
  return (
    <svg
      class="chart"
      viewBox={`0 0 ${width} ${height}`}
      width="100%"
      role="img"
      aria-label={title}
      data-testid="visitors-chart"
    >
      <title>{title}</title>
      <g class="chart-grid">
        {ticks.map((v) => (
          <g key={v}>
            <line x1={CHART_PADDING.left} x2={width - CHART_PADDING.right} y1={fmt(y(v))} y2={fmt(y(v))} />
            <text x={CHART_PADDING.left - 8} y={fmt(y(v))} text-anchor="end" dominant-baseline="middle">
              {formatCompact(v)}
            </text>
          </g>
        ))}
      </g>
      <g class="chart-x">
        {labels.map((label, i) =>
          i % labelEvery === 0 || i === n - 1
            ? (
              <text key={label} x={fmt(x(i))} y={height - 8} text-anchor="middle">
                {label}
              </text>
            )
            : null
        )}
      </g>
      {main && n > 0 && (
        <path
          class="chart-area"
          d={`${path(main.values)}L${fmt(x(n - 1))},${bottom}L${fmt(x(0))},${bottom}Z`}
        />
      )}
      {series.map((s) =>
        n > 0 && (
          <path
            key={s.name}
            class={s.compare ? "chart-line chart-line-compare" : "chart-line"}
            d={path(s.values)}
          />
        )
      )}
      {main && n > 0 && n <= 60 &&
        main.values.map((v, i) => (
          <circle key={i} class="chart-dot" cx={fmt(x(i))} cy={fmt(y(v))} r={highlight === i ? 5 : 2.5} />
        ))}
      {highlight !== null && highlight >= 0 && highlight < n && (
        <line class="chart-cursor" x1={fmt(x(highlight))} x2={fmt(x(highlight))} y1={top} y2={bottom} />
      )}
    </svg>
  );
}

function fmt(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

/** 1234 → "1.2k", 2500000 → "2.5M". */
export function formatCompact(v: number): string {
  if (v >= 1e6) return `${trim(v / 1e6)}M`;
  if (v >= 1e3) return `${trim(v / 1e3)}k`;
  return String(Math.round(v * 100) / 100);
}

function trim(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}
