/**
 * Island: one subscription on the Streams page — its status, the span it bought and the time left (counting
 * down; the subscription is polled from `GET /api/v1/subscriptions/:id`), and, while it can receive, a live
 * chart of one column per sensor (uPlot, loaded when the island hydrates) fed by the server-sent events of
 * `GET /api/v1/subscriptions/:id/readings`, with the latest reading of each sensor under it.
 */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import type { ReadingsEvent, StreamColumnView, SubscriptionView } from "../../protocol/api/streams.ts";
import { formatEther } from "../format.ts";
import { usePollJson } from "../island_fetch.ts";
import type uPlot from "uplot";

export interface StreamLiveProps {
  subscription: SubscriptionView;
  /** The stream's columns (empty when the stream is not known here: then taken from the readings). */
  schema: StreamColumnView[];
  sensors: { sensorId: string; label: string }[];
  /** ms since the epoch when the page was rendered (the countdown starts from it before hydration). */
  now: number;
  /** Points kept per sensor. @default 600 */
  window?: number;
}

type Value = number | string | boolean | null;
interface Point {
  ts: number;
  values: Record<string, Value>;
}

/** Statuses in which readings may still arrive. */
const RECEIVING: SubscriptionView["status"][] = ["active", "waiting-key", "paying", "quoting", "scheduled"];
const COLORS = ["#5b4cf0", "#12a150", "#d98a00", "#d6363f", "#0b84c6", "#8a4baf"];

/** Columns that can be drawn: numbers and booleans (as 0/1). */
function plottable(schema: StreamColumnView[]): string[] {
  return schema.filter((c) => c.type !== "string").map((c) => c.name);
}

function asNumber(v: Value | undefined): number | null {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  return null;
}

/** `12 min 5 s`, `3 h 2 min`, `2 d 4 h`. */
export function formatLeft(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** Aligned uPlot data: x = the union of timestamps (seconds), one y series per sensor (null where it has none). */
export function alignSeries(
  points: Map<string, Point[]>,
  sensors: string[],
  column: string,
): uPlot.AlignedData {
  const xs = [...new Set(sensors.flatMap((id) => (points.get(id) ?? []).map((p) => p.ts)))].sort((a, b) =>
    a - b
  );
  const index = new Map(xs.map((ts, i) => [ts, i]));
  const ys = sensors.map((id) => {
    const y: (number | null)[] = new Array(xs.length).fill(null);
    for (const p of points.get(id) ?? []) y[index.get(p.ts)!] = asNumber(p.values[column]);
    return y;
  });
  return [xs.map((ts) => ts / 1000), ...ys];
}

export function StreamLive(props: StreamLiveProps) {
  const { window: keep = 600 } = props;
  const sub = useSignal(props.subscription);
  const now = useSignal(props.now);
  const columns = useSignal(plottable(props.schema));
  const column = useSignal(columns.value[0] ?? "");
  const received = useSignal(0);
  const latest = useSignal<Record<string, Point>>({});
  const live = useSignal<boolean | null>(null);
  const points = useRef(new Map<string, Point[]>());
  const chartBox = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const sensorIds = useRef(props.sensors.map((s) => s.sensorId));
  const labels = new Map(props.sensors.map((s) => [s.sensorId, s.label || s.sensorId]));
  const receiving = RECEIVING.includes(sub.value.status);

  usePollJson<SubscriptionView>(
    receiving ? `/api/v1/subscriptions/${encodeURIComponent(sub.value.id)}` : null,
    {
      intervalMs: 5000,
      onData: (body) => {
        sub.value = body;
        return RECEIVING.includes(body.status);
      },
      onError: (err) => console.warn("kosmos: cannot refresh the subscription", err),
    },
  );

  useEffect(() => {
    now.value = Date.now();
    const timer = setInterval(() => (now.value = Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  /** (Re)builds the chart for the current sensors and column. */
  const redraw = async () => {
    const box = chartBox.current;
    if (!box || column.value === "") return;
    const { default: UPlot } = await import("uplot");
    const data = alignSeries(points.current, sensorIds.current, column.value);
    const series = sensorIds.current.length;
    if (chart.current && chart.current.series.length === series + 1) {
      chart.current.setData(data);
      return;
    }
    chart.current?.destroy();
    chart.current = new UPlot(
      {
        width: Math.max(280, box.clientWidth || 720),
        height: 240,
        scales: { x: { time: true } },
        series: [
          {},
          ...sensorIds.current.map((id, i) => ({
            label: labels.get(id) ?? id,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            spanGaps: true,
            points: { show: false },
          })),
        ],
        axes: [{}, { label: column.value }],
      },
      data,
      box,
    );
  };

  useEffect(() => {
    if (!receiving) return;
    const source = new EventSource(`/api/v1/subscriptions/${encodeURIComponent(sub.value.id)}/readings`);
    let frame: number | null = null;
    source.onopen = () => (live.value = true);
    source.onerror = () => (live.value = false);
    source.addEventListener("readings", (e) => {
      const event = JSON.parse((e as MessageEvent<string>).data) as ReadingsEvent;
      const next = { ...latest.value };
      for (const r of event.readings) {
        let list = points.current.get(r.sensorId);
        if (!list) {
          points.current.set(r.sensorId, list = []);
          if (!sensorIds.current.includes(r.sensorId)) sensorIds.current = [...sensorIds.current, r.sensorId];
        }
        list.push({ ts: r.ts, values: r.values });
        if (list.length > keep) list.splice(0, list.length - keep);
        if (!next[r.sensorId] || next[r.sensorId].ts < r.ts) {
          next[r.sensorId] = { ts: r.ts, values: r.values };
        }
      }
      if (columns.value.length === 0 && event.readings[0]) {
        columns.value = Object.entries(event.readings[0].values).filter(([, v]) => asNumber(v) !== null)
          .map(([k]) => k);
        column.value = columns.value[0] ?? "";
      }
      latest.value = next;
      received.value += event.readings.length;
      live.value = true;
      frame ??= requestAnimationFrame(() => {
        frame = null;
        void redraw();
      });
    });
    return () => {
      source.close();
      if (frame !== null) cancelAnimationFrame(frame);
      chart.current?.destroy();
      chart.current = null;
    };
  }, [receiving]);

  const s = sub.value;
  const left = s.to - now.value;
  const starts = s.from - now.value;
  return (
    <div class="stream-live" data-testid="stream-live" data-status={s.status}>
      <header class="stream-live-head">
        <h3>{s.title}</h3>
        <span
          class={`status status-${
            s.status === "active" ? "live" : RECEIVING.includes(s.status) ? "pending" : "offline"
          }`}
        >
          <span class="status-dot" aria-hidden="true" />
          <span data-testid="subscription-status">{s.status}</span>
        </span>
      </header>
      <dl class="facts">
        <dt>Span</dt>
        <dd>
          {new Date(s.from).toLocaleString()} – {new Date(s.to).toLocaleString()} (epochs {s.epochs.first}–
          {s.epochs.last})
        </dd>
        <dt>Expiry</dt>
        <dd data-testid="subscription-expiry" data-to={s.to}>
          {s.status === "failed"
            ? `failed: ${s.error ?? "unknown error"}`
            : starts > 0
            ? `starts in ${formatLeft(starts)}`
            : left > 0
            ? `ends in ${formatLeft(left)}`
            : "ended: keys of later epochs were never bought"}
        </dd>
        <dt>Paid</dt>
        <dd>{formatEther(s.paid)} KOS</dd>
        <dt>Received</dt>
        <dd data-testid="subscription-received">
          {Math.max(s.received, received.value).toLocaleString("en-US")} readings
          {s.lastReadingAt ? ` · last ${new Date(s.lastReadingAt).toLocaleTimeString()}` : ""}
        </dd>
      </dl>
      {receiving && (
        <div class="stream-chart-wrap">
          <div class="stream-chart-controls">
            {columns.value.length > 1 && (
              <label class="field">
                <span>Column</span>
                <select
                  value={column.value}
                  data-testid="stream-column"
                  onChange={(e) => {
                    column.value = e.currentTarget.value;
                    chart.current?.destroy();
                    chart.current = null;
                    void redraw();
                  }}
                >
                  {columns.value.map((c) => <option key={c} value={c}>{c}</option>)}
                </select>
              </label>
            )}
            <span class="muted" data-testid="stream-points" data-count={received.value}>
              {live.value === false ? "reconnecting… · " : ""}
              {received.value.toLocaleString("en-US")} live readings on this page
            </span>
          </div>
          <div class="stream-chart" ref={chartBox} data-testid="stream-chart" />
          <table class="stream-latest" data-testid="stream-latest">
            <tbody>
              {Object.entries(latest.value).map(([id, p]) => (
                <tr key={id} data-sensor={id}>
                  <th>{labels.get(id) ?? id}</th>
                  <td>{new Date(p.ts).toLocaleTimeString()}</td>
                  <td>{Object.entries(p.values).map(([k, v]) => `${k} ${String(v)}`).join(" · ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
