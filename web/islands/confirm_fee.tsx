/**
 * The fee confirmation every island that makes the node sign goes through.
 * `useFeeConfirm()` first calls the action with `?preview=1` (the node
 * validates, estimates the fee on the chain and signs nothing), then shows
 * `<FeeConfirm>`: the estimated fee in ETH with "Confirm" and "Cancel". Only
 * "Confirm" calls the action for real; "Cancel" drops it.
 *
 * ```tsx
 * const fee = useFeeConfirm<StakeResult>();
 * const stake = () => fee.request({ url: "/api/v1/stakes", body: { manifestCid, amount } }, {
 *   onDone: (result) => (listed.value = result.listingId),
 * });
 * return <><button onClick={stake}>Stake</button><FeeConfirm fee={fee} what="Stake 100 KOS" /></>;
 * ```
 */
import { type Signal, useSignal } from "@preact/signals";
import { useRef } from "preact/hooks";
import type { ComponentChildren } from "preact";
import type { FeeView } from "../../protocol/api/fees.ts";
import { formatEther } from "../format.ts";
import { requestJson } from "../island_fetch.ts";

/** A request that makes the node sign: JSON `body` (none when absent), POST unless told. */
export interface FeeAction {
  url: string;
  body?: unknown;
  /** @default "POST" */
  method?: "POST" | "PUT" | "DELETE";
}

/** Where a confirmation stands. `preview` is the node's whole preview answer (what would happen). */
export type FeeConfirmState =
  | { kind: "idle" }
  | { kind: "estimating" }
  | { kind: "confirm"; fee: FeeView; preview: Record<string, unknown> }
  | { kind: "sending"; fee: FeeView; preview: Record<string, unknown> }
  | { kind: "done"; fee: FeeView }
  | { kind: "cancelled" }
  | { kind: "error"; message: string };

export interface FeeConfirmHandlers<T> {
  /** Takes the node's answer once the action was confirmed and sent. */
  onDone?: (result: T) => unknown;
  /** Takes the message of a failed preview or a failed action. */
  onError?: (message: string) => unknown;
}

/** What {@link useFeeConfirm} returns. */
export interface FeeConfirmHandle<T> {
  state: Signal<FeeConfirmState>;
  /** Previews `action` (signs nothing) and waits for Confirm or Cancel. */
  request: (action: FeeAction, handlers?: FeeConfirmHandlers<T>) => Promise<void>;
  /** Sends the previewed action for real. */
  confirm: () => Promise<void>;
  /** Drops the previewed action; nothing is sent. */
  cancel: () => void;
  /** Whether a preview or the action is in flight, or waits for an answer. */
  busy: boolean;
}

/** `url` with `preview=1` added to its query. */
export function previewUrl(url: string): string {
  return `${url}${url.includes("?") ? "&" : "?"}preview=1`;
}

function send<T>(action: FeeAction, url: string): Promise<T> {
  return requestJson<T>(url, {
    method: action.method ?? "POST",
    ...(action.body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(action.body) }),
  });
}

/** The preview-then-confirm flow of one signing action (see the module doc). */
export function useFeeConfirm<T = Record<string, unknown>>(): FeeConfirmHandle<T> {
  const state = useSignal<FeeConfirmState>({ kind: "idle" });
  const pending = useRef<{ action: FeeAction; handlers: FeeConfirmHandlers<T> } | null>(null);

  const fail = (message: string, handlers: FeeConfirmHandlers<T>) => {
    state.value = { kind: "error", message };
    handlers.onError?.(message);
  };

  const request = async (action: FeeAction, handlers: FeeConfirmHandlers<T> = {}) => {
    pending.current = { action, handlers };
    state.value = { kind: "estimating" };
    try {
      const preview = await send<Record<string, unknown> & { fee: FeeView }>(action, previewUrl(action.url));
      if (pending.current?.action !== action) return; // cancelled or replaced meanwhile
      state.value = { kind: "confirm", fee: preview.fee, preview };
    } catch (err) {
      if (pending.current?.action !== action) return;
      pending.current = null;
      fail((err as Error).message, handlers);
    }
  };

  const confirm = async () => {
    const s = state.value;
    const current = pending.current;
    if (s.kind !== "confirm" || !current) return;
    state.value = { kind: "sending", fee: s.fee, preview: s.preview };
    try {
      const result = await send<T>(current.action, current.action.url);
      pending.current = null;
      state.value = { kind: "done", fee: s.fee };
      await current.handlers.onDone?.(result);
    } catch (err) {
      pending.current = null;
      fail((err as Error).message, current.handlers);
    }
  };

  const cancel = () => {
    if (state.value.kind === "sending") return;
    pending.current = null;
    state.value = { kind: "cancelled" };
  };

  const kind = state.value.kind;
  return {
    state,
    request,
    confirm,
    cancel,
    busy: kind === "estimating" || kind === "confirm" || kind === "sending",
  };
}

export interface FeeConfirmProps<T> {
  fee: FeeConfirmHandle<T>;
  /** What the transaction does, e.g. "Stake 100 KOS to list this dataset". */
  what: ComponentChildren;
  /** @default "Confirm" */
  confirmLabel?: string;
}

/** Gas units with thousands separators. */
function formatGas(gas: string): string {
  return gas.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * The estimated fee and the Confirm / Cancel buttons while an action waits
 * for them; "Estimating the fee…" before; nothing otherwise (the island shows
 * its own result and errors).
 */
export function FeeConfirm<T>({ fee, what, confirmLabel = "Confirm" }: FeeConfirmProps<T>) {
  const s = fee.state.value;
  if (s.kind === "estimating") {
    return <p class="muted" data-testid="fee-estimating">Estimating the network fee…</p>;
  }
  if (s.kind !== "confirm" && s.kind !== "sending") return null;
  const gwei = (wei: string) => formatEther(BigInt(wei) * 10n ** 9n, 3);
  return (
    <div class="fee-confirm" role="group" aria-label="Confirm the transaction" data-testid="fee-confirm">
      <p>{what}</p>
      <dl class="facts">
        <dt>Network fee</dt>
        <dd>
          at most{" "}
          <strong data-testid="fee-amount" data-wei={s.fee.fee}>{formatEther(s.fee.fee, 8)} ETH</strong>
        </dd>
        <dt>Gas</dt>
        <dd data-testid="fee-gas">
          {formatGas(s.fee.gas)} × {gwei(s.fee.maxFeePerGas)} gwei (tip {gwei(s.fee.maxPriorityFeePerGas)})
        </dd>
      </dl>
      <div class="fee-confirm-actions">
        <button
          type="button"
          class="button button-secondary"
          data-testid="fee-cancel"
          disabled={s.kind === "sending"}
          onClick={fee.cancel}
        >
          Cancel
        </button>
        <button
          type="button"
          class="button"
          data-testid="fee-confirm-button"
          disabled={s.kind === "sending"}
          onClick={() => void fee.confirm()}
        >
          {s.kind === "sending" ? "Signing…" : confirmLabel}
        </button>
      </div>
    </div>
  );
}
