/**
 * Island: deliveries of one complete purchase. A form sends its rows to a
 * connector with `POST /api/v1/purchases/:id/deliveries` (a directory on this
 * node, or an HTTP webhook; CSV or NDJSON); the node delivers in batches in
 * the background, and the list follows each delivery (`GET /api/v1/deliveries`)
 * until it is delivered or failed. The form checks the target before sending
 * and shows the node's message when it refuses one (a directory outside the
 * allowed ones, a webhook on a private address). Nothing is signed.
 */
import { useSignal } from "@preact/signals";
import type { DeliveryView } from "../../protocol/api/mod.ts";
import { requestJson, usePollJson } from "../island_fetch.ts";

export interface PurchaseDeliveryProps {
  purchaseId: string;
  /** This purchase's deliveries, newest first. */
  deliveries: DeliveryView[];
}

type Connector = "directory" | "webhook";

/** Why `target` cannot be a target of `connector`, or `null`. */
export function checkDeliveryTarget(connector: Connector, target: string): string | null {
  if (connector === "directory") {
    if (target === "") return "Enter the directory to write to, e.g. /home/me/kosmos/deliveries/trips.";
    if (!target.startsWith("/")) return `"${target.slice(0, 80)}" is not an absolute path: start it with /.`;
    return null;
  }
  if (target === "") return "Enter the webhook URL, e.g. https://example.com/hooks/kosmos.";
  try {
    const url = new URL(target);
    if (url.protocol === "http:" || url.protocol === "https:") return null;
  } catch { /* not a URL */ }
  return `"${target.slice(0, 80)}" is not an http(s) URL.`;
}

const pending = (d: DeliveryView) => d.status === "pending";

const STATUS_CLASS: Record<DeliveryView["status"], string> = {
  pending: "status-pending",
  delivered: "status-replicated",
  failed: "status-buy-failed",
};

export function PurchaseDelivery(props: PurchaseDeliveryProps) {
  const deliveries = useSignal(props.deliveries);
  const connector = useSignal<Connector>("directory");
  const target = useSignal("");
  const format = useSignal<"csv" | "ndjson">("csv");
  const invalid = useSignal<string | null>(null);
  const error = useSignal<string | null>(null);
  const sending = useSignal(false);

  usePollJson<{ deliveries: DeliveryView[] }>(
    deliveries.value.some(pending) ? "/api/v1/deliveries" : null,
    {
      intervalMs: 1000,
      onData: (body) => {
        const mine = body.deliveries.filter((d) => d.purchaseId === props.purchaseId);
        deliveries.value = mine;
        return mine.some(pending);
      },
      onError: () => {},
    },
  );

  const submit = async (e: Event) => {
    e.preventDefault();
    const value = target.value.trim();
    invalid.value = checkDeliveryTarget(connector.value, value);
    if (invalid.value) return;
    error.value = null;
    sending.value = true;
    const body = connector.value === "directory"
      ? { connector: "directory", dir: value, format: format.value }
      : { connector: "webhook", url: value, format: format.value };
    try {
      const delivery = await requestJson<DeliveryView>(
        `/api/v1/purchases/${encodeURIComponent(props.purchaseId)}/deliveries`,
        { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
      );
      deliveries.value = [delivery, ...deliveries.value.filter((d) => d.id !== delivery.id)];
      target.value = "";
    } catch (err) {
      error.value = (err as Error).message;
    } finally {
      sending.value = false;
    }
  };

  return (
    <div class="purchase-delivery" aria-live="polite">
      <form class="stake-form" onSubmit={submit} noValidate data-testid="delivery-form">
        <label>
          <span>Connector</span>
          <select
            name="connector"
            value={connector.value}
            onChange={(e) => {
              connector.value = e.currentTarget.value as Connector;
              invalid.value = null;
            }}
          >
            <option value="directory">Directory on this node</option>
            <option value="webhook">Webhook (HTTP POST)</option>
          </select>
        </label>
        <label class="field-grow">
          <span>{connector.value === "directory" ? "Directory" : "Webhook URL"}</span>
          <input
            type="text"
            name="target"
            required
            autoComplete="off"
            spellcheck={false}
            placeholder={connector.value === "directory" ? "/absolute/path" : "https://…"}
            aria-invalid={invalid.value ? "true" : undefined}
            value={target.value}
            onInput={(e) => {
              target.value = e.currentTarget.value;
              invalid.value = null;
            }}
          />
        </label>
        <label>
          <span>Format</span>
          <select
            name="format"
            value={format.value}
            onChange={(e) => format.value = e.currentTarget.value as "csv" | "ndjson"}
          >
            <option value="csv">CSV</option>
            <option value="ndjson">NDJSON</option>
          </select>
        </label>
        <button type="submit" class="button" disabled={sending.value}>
          {sending.value ? "Starting…" : "Deliver"}
        </button>
      </form>
      {invalid.value && <p class="error" role="alert" data-testid="delivery-invalid">{invalid.value}</p>}
      {error.value && <p class="error" role="alert" data-testid="delivery-error">{error.value}</p>}
      {deliveries.value.length > 0 && (
        <ul class="plain-list" data-testid="deliveries">
          {deliveries.value.map((d) => (
            <li key={d.id} data-testid="delivery" data-delivery-id={d.id} data-status={d.status}>
              <span>
                {d.connector === "directory" ? "Directory" : "Webhook"} <code class="break">{d.target}</code>
                {" "}
                ({d.format.toUpperCase()})
              </span>{" "}
              <span class={`status ${STATUS_CLASS[d.status]}`}>
                <span class="status-dot" aria-hidden="true" />
                {d.status === "delivered"
                  ? `Delivered ${d.rows.toLocaleString("en-US")} rows in ${d.batches} batch${
                    d.batches === 1 ? "" : "es"
                  }`
                  : d.status === "failed"
                  ? `Failed: ${d.lastError ?? "unknown error"}`
                  : `Delivering… ${d.rows.toLocaleString("en-US")} rows so far`}
              </span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
