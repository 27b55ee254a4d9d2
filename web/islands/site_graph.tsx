/**
 * Island: the visitors graph of a site's dashboard. The server renders the
 * SVG chart; in the browser, moving the pointer over it marks the nearest
 * point and shows a tooltip with that bucket's figures (and the previous
 * period's, when compared).
 */
import { useSignal } from "@preact/signals";
import { CHART_PADDING, type ChartSeries, LineChart } from "../components/chart.tsx";

export interface SiteGraphProps {
  /** Short labels under the x axis, one per point. */
  labels: string[];
  /** Long labels for the tooltip ("Fri, 15 Mar 2024"), one per point. */
  titles: string[];
  /** The main series first; a `compare` series holds the previous period. */
  series: ChartSeries[];
  /** Titles of the previous period's points, when compared. @default [] */
  compareTitles?: string[];
  /** @default 800 */
  width?: number;
  /** @default 260 */
  height?: number;
}

export function SiteGraph(
  { labels, titles, series, compareTitles = [], width = 800, height = 260 }: SiteGraphProps,
) {
  const hover = useSignal<number | null>(null);
  const n = labels.length;
  const onMove = (e: MouseEvent) => {
    const rect = (e.currentTarget as HTMLElement).getBoundingClientRect();
    if (rect.width === 0 || n === 0) return;
    const x = ((e.clientX - rect.left) * width) / rect.width;
    const inner = width - CHART_PADDING.left - CHART_PADDING.right;
    const i = n <= 1 ? 0 : Math.round(((x - CHART_PADDING.left) * (n - 1)) / inner);
    hover.value = Math.min(n - 1, Math.max(0, i));
  };
  const i = hover.value;
  const left = i === null
    ? 0
    : (n <= 1
      ? 50
      : ((CHART_PADDING.left + (width - CHART_PADDING.left - CHART_PADDING.right) * i / (n - 1)) / width) *
        100);
  return (
    <div
      class="chart-wrap"
      onMouseMove={onMove}
      onMouseLeave={() => (hover.value = null)}
      data-testid="site-graph"
    >
      <LineChart labels={labels} series={series} width={width} height={height} highlight={i} />
      {i !== null && (
        <div
          class={`chart-tooltip${left > 60 ? " chart-tooltip-left" : ""}`}
          style={{ left: `${left}%` }}
          role="status"
          data-testid="chart-tooltip"
        >
          <strong>{titles[i]}</strong>
          {series.map((s) => (
            <div key={s.name} class={s.compare ? "muted" : ""}>
              {s.compare && compareTitles[i] ? `${compareTitles[i]}: ` : `${s.name}: `}
              <b>{(s.values[i] ?? 0).toLocaleString("en-US")}</b>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
