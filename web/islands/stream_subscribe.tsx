/**
 * Island: the subscribe form of a stream on the Streams page. The person picks a span (a number of minutes,
 * hours or days) and, optionally, where the readings should also go (one target per line: a directory, a
 * webhook, `mqtt://host:port/topic`, `postgres://user@host/db?table=name`). The price of the whole epochs it
 * buys is estimated as they type; "Review…" asks the node (`POST /api/v1/subscriptions?preview=1`: the exact
 * span, price and network fee, nothing signed) and "Subscribe" buys it.
 */
import { useSignal } from "@preact/signals";
import type { SubscriptionPreview, SubscriptionView } from "../../protocol/api/streams.ts";
import { formatEther } from "../format.ts";
import { estimateSubscription } from "../streams/load.ts";
import { FeeConfirm, useFeeConfirm } from "./confirm_fee.tsx";
import { DurationFields, durationSeconds, type DurationUnit } from "../components/duration_fields.tsx";

export interface StreamSubscribeProps {
  streamId: string;
  title: string;
  /** Token base units per hour (decimal). */
  pricePerHour: string;
  epochSeconds: number;
}

/** Most epochs one sale may carry (the node's limit). */
const MAX_EPOCHS = 744;

export function StreamSubscribe(props: StreamSubscribeProps) {
  const amount = useSignal("1");
  const unit = useSignal<DurationUnit>("hours");
  const targets = useSignal("");
  const invalid = useSignal<string | null>(null);
  const status = useSignal<{ state: "done" | "error"; message: string } | null>(null);
  const buy = useFeeConfirm<SubscriptionView>();

  const seconds = durationSeconds(amount.value, unit.value);
  const estimate = Number.isInteger(seconds) && seconds > 0
    ? estimateSubscription(props, seconds, Date.now())
    : null;
  const epochs = estimate ? estimate.last - estimate.first + 1 : 0;

  const submit = (e: Event) => {
    e.preventDefault();
    const list = targets.value.split("\n").map((t) => t.trim()).filter(Boolean);
    invalid.value = !estimate
      ? "Enter a positive span."
      : epochs > MAX_EPOCHS
      ? `That is ${epochs} epochs; one subscription buys at most ${MAX_EPOCHS} (renew it to go further).`
      : list.length > 8
      ? "At most 8 delivery targets."
      : null;
    if (invalid.value) return;
    status.value = null;
    const body = { streamId: props.streamId, seconds, ...(list.length > 0 && { targets: list }) };
    void buy.request({ url: "/api/v1/subscriptions", body }, {
      onDone: (sub) => {
        status.value = {
          state: "done",
          message: `Subscribed (${sub.status}) until ${
            new Date(sub.to).toLocaleString()
          }; reload to watch it live.`,
        };
      },
      onError: (message) => (status.value = { state: "error", message }),
    });
  };

  const s = buy.state.value;
  const preview = s.kind === "confirm" || s.kind === "sending"
    ? s.preview as unknown as SubscriptionPreview
    : null;
  return (
    <form class="stream-subscribe" onSubmit={submit} noValidate data-testid="subscribe-form">
      <div class="form-grid">
        <DurationFields label="For" amount={amount} unit={unit} disabled={buy.busy} testId="subscribe" />
        <label class="field field-wide">
          <span>Also deliver to (optional, one per line)</span>
          <textarea
            name="targets"
            rows={2}
            value={targets.value}
            disabled={buy.busy}
            placeholder="mqtt://127.0.0.1:1883/plant/readings"
            onInput={(e) => (targets.value = e.currentTarget.value)}
            data-testid="subscribe-targets"
          />
        </label>
      </div>
      <p class="muted" data-testid="subscribe-estimate" data-price={estimate?.price.toString() ?? ""}>
        {estimate
          ? `${epochs} ${epochs === 1 ? "epoch" : "epochs"} until ${
            new Date(estimate.to).toLocaleString()
          } · about ${formatEther(estimate.price)} KOS`
          : "Enter how long to subscribe for."}
      </p>
      {invalid.value && <p class="form-error" role="alert" data-testid="subscribe-invalid">{invalid.value}
      </p>}
      <div class="form-actions">
        <button type="submit" class="button" disabled={buy.busy} data-testid="subscribe-review">
          Review subscription…
        </button>
      </div>
      <div aria-live="polite">
        <FeeConfirm
          fee={buy}
          confirmLabel="Subscribe"
          what={preview
            ? (
              <span data-testid="subscribe-preview" data-price={preview.price}>
                Buy the keys of epochs {preview.epochs.first}–{preview.epochs.last} of “{props.title}” (
                {new Date(preview.from).toLocaleString()} – {new Date(preview.to).toLocaleString()}) for{" "}
                <strong>{formatEther(preview.price)} KOS</strong>
              </span>
            )
            : "Subscribe"}
        />
        {status.value && (
          <p
            class={status.value.state === "done" ? "muted" : "form-error"}
            role={status.value.state === "error" ? "alert" : undefined}
            data-testid="subscribe-status"
          >
            {status.value.message}
          </p>
        )}
      </div>
    </form>
  );
}
