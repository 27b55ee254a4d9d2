/**
 * Island: a site's "current visitors" counter (distinct visitors of the last
 * 5 minutes). Server-rendered with the count at request time, then polled
 * from `GET /api/v1/sites/:domain/realtime`.
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";

export interface SiteRealtimeProps {
  domain: string;
  /** Visitors when the page was rendered. */
  visitors: number;
  /** @default 10_000 */
  intervalMs?: number;
}

export function SiteRealtime({ domain, visitors: initial, intervalMs = 10_000 }: SiteRealtimeProps) {
  const visitors = useSignal(initial);
  const live = useSignal<boolean | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const endpoint = `/api/v1/sites/${encodeURIComponent(domain)}/realtime`;
    const poll = async () => {
      try {
        const response = await fetch(endpoint, {
          signal: controller.signal,
          headers: { accept: "application/json" },
        });
        if (!response.ok) throw new Error(`GET ${endpoint} answered ${response.status}`);
        visitors.value = (await response.json()).visitors;
        live.value = true;
      } catch (err) {
        if (controller.signal.aborted) return;
        live.value = false;
        console.warn("kosmos: cannot refresh realtime visitors", err);
      }
      if (!controller.signal.aborted) timer = setTimeout(poll, intervalMs);
    };
    timer = setTimeout(poll, intervalMs);
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [domain, intervalMs]);
  const n = visitors.value;
  return (
    <span
      class={`realtime${live.value === false ? " realtime-offline" : ""}`}
      title="Distinct visitors in the last 5 minutes"
      data-testid="realtime"
    >
      <span class="realtime-dot" aria-hidden="true" />
      <b data-testid="realtime-count">{n.toLocaleString("en-US")}</b> current{" "}
      {n === 1 ? "visitor" : "visitors"}
    </span>
  );
}
