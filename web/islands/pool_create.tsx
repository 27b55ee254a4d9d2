/**
 * Island: the form that creates a pool on the Pools page. The terms (kind, purpose, title, price, licence,
 * k, operator fee) are previewed first (`POST /api/v1/pools?preview=1`, nothing signed) and the fee is
 * shown; "Create pool" sends `POST /api/v1/pools`, which creates it on chain and announces it.
 */
import { useSignal } from "@preact/signals";
import type { CreatedPool } from "../../protocol/api/pools.ts";
import type { SourceKind } from "../../protocol/sources.ts";
import { FeeConfirm, useFeeConfirm } from "./confirm_fee.tsx";

export interface PoolCreateProps {
  kinds: { kind: SourceKind; label: string }[];
}

export function PoolCreate(props: PoolCreateProps) {
  const kind = useSignal<SourceKind | "">("");
  const purpose = useSignal("");
  const title = useSignal("");
  const price = useSignal("1");
  const licence = useSignal("CC-BY-4.0");
  const k = useSignal("5");
  const fee = useSignal("1000");
  const invalid = useSignal<string | null>(null);
  const status = useSignal<{ state: "done" | "error"; message: string } | null>(null);
  const create = useFeeConfirm<CreatedPool>();

  const submit = (e: Event) => {
    e.preventDefault();
    const bps = Number(fee.value);
    const kNumber = Number(k.value);
    invalid.value = kind.value === ""
      ? "Choose the kind of data the pool collects."
      : purpose.value.trim().length < 3
      ? "Say what the data may be used for (3 characters at least)."
      : title.value.trim() === ""
      ? "Give the pool a title."
      : !Number.isInteger(bps) || bps < 0 || bps > 5000
      ? "The operator fee is 0 to 5000 basis points (50 %)."
      : !Number.isInteger(kNumber) || kNumber < 2 || kNumber > 1000
      ? "k is a whole number from 2 to 1000."
      : null;
    if (invalid.value || kind.value === "") return;
    status.value = null;
    const body = {
      kind: kind.value,
      purpose: purpose.value.trim(),
      title: title.value.trim(),
      price: price.value.trim(),
      licence: licence.value.trim(),
      k: kNumber,
      operatorFeeBps: bps,
    };
    void create.request({ url: "/api/v1/pools", body }, {
      onDone: (pool) => {
        status.value = { state: "done", message: `Pool ${pool.id} created; reload to see it listed.` };
      },
      onError: (message) => (status.value = { state: "error", message }),
    });
  };

  const field = (label: string, value: typeof purpose, name: string, extra: Record<string, unknown> = {}) => (
    <label class="field">
      <span>{label}</span>
      <input
        name={name}
        value={value.value}
        disabled={create.busy}
        onInput={(e) => (value.value = e.currentTarget.value)}
        data-testid={`pool-${name}`}
        {...extra}
      />
    </label>
  );

  return (
    <form class="card" onSubmit={submit} noValidate data-testid="pool-create">
      <h3>Create a pool</h3>
      <div class="form-grid">
        <label class="field">
          <span>Data</span>
          <select
            name="kind"
            value={kind.value}
            disabled={create.busy}
            onChange={(e) => (kind.value = e.currentTarget.value as SourceKind | "")}
            data-testid="pool-kind"
          >
            <option value="">Choose…</option>
            {props.kinds.map((i) => <option key={i.kind} value={i.kind}>{i.label}</option>)}
          </select>
        </label>
        {field("Purpose", purpose, "purpose", { maxLength: 200 })}
        {field("Title", title, "title", { maxLength: 200 })}
        {field("Price per version (KOS)", price, "price", { inputMode: "decimal" })}
        {field("Licence", licence, "licence", { maxLength: 64 })}
        {field("k (anonymity)", k, "k", { inputMode: "numeric" })}
        {field("Operator fee (basis points)", fee, "fee", { inputMode: "numeric" })}
      </div>
      {invalid.value && <p class="form-error" role="alert" data-testid="pool-invalid">{invalid.value}</p>}
      <div class="form-actions">
        <button type="submit" class="button" disabled={create.busy} data-testid="pool-review">
          Review and create…
        </button>
      </div>
      <div aria-live="polite">
        <FeeConfirm fee={create} confirmLabel="Create pool" what="Create the pool on chain and announce it" />
        {status.value && (
          <p
            class={status.value.state === "done" ? "muted" : "form-error"}
            role={status.value.state === "error" ? "alert" : undefined}
            data-testid="pool-create-status"
          >
            {status.value.message}
          </p>
        )}
      </div>
    </form>
  );
}
