/**
 * Island: the Renew control of a subscription on the Streams page. The person picks how much longer (a
 * number of minutes, hours or days); "Review renewal…" asks the node
 * (`POST /api/v1/subscriptions/:id/renew?preview=1`: the epochs after the last one bought, their price and
 * the network fee, nothing signed) and "Renew" buys them as another sale of the same subscription.
 */
import { useSignal } from "@preact/signals";
import type { RenewalPreview, SubscriptionView } from "../../protocol/api/streams.ts";
import { formatEther } from "../format.ts";
import { FeeConfirm, useFeeConfirm } from "./confirm_fee.tsx";
import { DurationFields, durationSeconds, type DurationUnit } from "../components/duration_fields.tsx";

export interface StreamRenewProps {
  subscriptionId: string;
  title: string;
}

/** The longest span the node accepts in one purchase request, seconds. */
const MAX_SECONDS = 31_536_000;

export function StreamRenew(props: StreamRenewProps) {
  const amount = useSignal("1");
  const unit = useSignal<DurationUnit>("hours");
  const invalid = useSignal<string | null>(null);
  const status = useSignal<{ state: "done" | "error"; message: string; to?: number } | null>(null);
  const renew = useFeeConfirm<SubscriptionView>();

  const submit = (e: Event) => {
    e.preventDefault();
    const seconds = durationSeconds(amount.value, unit.value);
    invalid.value = !Number.isInteger(seconds) || seconds < 1
      ? "Enter a positive span."
      : seconds > MAX_SECONDS
      ? "At most a year at a time."
      : null;
    if (invalid.value) return;
    status.value = null;
    const url = `/api/v1/subscriptions/${encodeURIComponent(props.subscriptionId)}/renew`;
    void renew.request({ url, body: { seconds } }, {
      onDone: (sub) => {
        status.value = {
          state: "done",
          message: `Renewed (${sub.status}) until ${new Date(sub.to).toLocaleString()}.`,
          to: sub.to,
        };
      },
      onError: (message) => (status.value = { state: "error", message }),
    });
  };

  const s = renew.state.value;
  const preview = s.kind === "confirm" || s.kind === "sending"
    ? s.preview as unknown as RenewalPreview
    : null;
  return (
    <form class="stream-renew" onSubmit={submit} noValidate data-testid="renew-form">
      <div class="form-grid">
        <DurationFields label="Renew for" amount={amount} unit={unit} disabled={renew.busy} testId="renew" />
      </div>
      {invalid.value && <p class="form-error" role="alert" data-testid="renew-invalid">{invalid.value}</p>}
      <div class="form-actions">
        <button
          type="submit"
          class="button button-secondary"
          disabled={renew.busy}
          data-testid="renew-review"
        >
          Review renewal…
        </button>
      </div>
      <div aria-live="polite">
        <FeeConfirm
          fee={renew}
          confirmLabel="Renew"
          what={preview
            ? (
              <span data-testid="renew-preview" data-price={preview.price} data-to={preview.to}>
                Buy the keys of epochs {preview.epochs.first}–{preview.epochs.last} of “{props.title}” (
                {new Date(preview.from).toLocaleString()} – {new Date(preview.to).toLocaleString()}) for{" "}
                <strong>{formatEther(preview.price)} KOS</strong>
              </span>
            )
            : "Renew"}
        />
        {status.value && (
          <p
            class={status.value.state === "done" ? "muted" : "form-error"}
            role={status.value.state === "error" ? "alert" : undefined}
            data-testid="renew-status"
            data-to={status.value.to}
          >
            {status.value.message}
          </p>
        )}
      </div>
    </form>
  );
}
