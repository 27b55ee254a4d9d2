/**
 * Island: buying a dataset this node does not sell. It first shows the quote
 * preview from `GET /api/v1/listings/:id/quote` (price, the seller / gateway /
 * treasury split, typical gas) and a "Buy" button that first asks the seller
 * for a real quote and shows the fee estimated on the chain for it
 * (`POST /api/v1/purchases?preview=1`, nothing signed); only "Confirm and
 * pay" posts `POST /api/v1/purchases { listingId }`, which opens that quote.
 * It then polls
 * `GET /api/v1/purchases/:id` and shows each step of the key sale: quote,
 * lock, reveal, verify, download %, complete (with the download link), or the
 * reason of a refund or failure. A listing already bought shows "Owned" and
 * the download link: rights are never paid twice.
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { PurchaseStatus, PurchaseView, QuotePreviewView } from "../../protocol/api/mod.ts";
import { formatEther, formatShare } from "../format.ts";
import { requestJson, usePollJson } from "../island_fetch.ts";
import { PurchaseStatusBadge } from "../components/key_sale.tsx";
import { FeeConfirm, useFeeConfirm } from "./confirm_fee.tsx";

export interface BuyListingProps {
  /** The dataset's manifest CID. */
  manifestCid: string;
  /** This node's purchase of the listing when the page was rendered, if any. */
  initial: PurchaseView | null;
  /** @default 500 */
  intervalMs?: number;
}

/** The steps shown, each reached when the purchase has the matching status. */
const steps: { label: string; status: PurchaseStatus }[] = [
  { label: "Quote", status: "quoted" },
  { label: "Lock", status: "opened" },
  { label: "Reveal", status: "revealed" },
  { label: "Download", status: "downloading" },
  { label: "Verify", status: "verified" },
  { label: "Complete", status: "complete" },
];

const order: PurchaseStatus[] = steps.map((s) => s.status);

/** Whether the purchase is still moving on its own (the island keeps polling). */
export function isPurchaseActive(status: PurchaseStatus): boolean {
  return status !== "complete" && status !== "refunded" && status !== "failed";
}

export function BuyListing({ manifestCid, initial, intervalMs = 500 }: BuyListingProps) {
  const purchase = useSignal<PurchaseView | null>(initial);
  const quote = useSignal<QuotePreviewView | null>(null);
  const quoteError = useSignal<string | null>(null);
  const error = useSignal<string | null>(null);
  const p = purchase.value;
  const active = p !== null && isPurchaseActive(p.status);
  const needsQuote = p === null || p.status === "refunded" || p.status === "failed";

  useEffect(() => {
    if (!needsQuote || quote.value) return;
    const controller = new AbortController();
    requestJson<QuotePreviewView>(`/api/v1/listings/${encodeURIComponent(manifestCid)}/quote`, {
      signal: controller.signal,
    })
      .then((q) => (quote.value = q, quoteError.value = null))
      .catch((err) => {
        if (!controller.signal.aborted) quoteError.value = (err as Error).message;
      });
    return () => controller.abort();
  }, [needsQuote, manifestCid]);

  usePollJson<PurchaseView>(active && p ? `/api/v1/purchases/${encodeURIComponent(p.id)}` : null, {
    intervalMs,
    onData: (body) => {
      purchase.value = body;
      error.value = null;
      return isPurchaseActive(body.status);
    },
    onError: (err) => (error.value = err.message),
  });

  const fee = useFeeConfirm<PurchaseView>();

  /**
   * Asks the seller for a real quote and estimates its transactions on the
   * chain (`?preview=1`, nothing signed); Confirm opens that very quote.
   */
  const buy = () => {
    error.value = null;
    void fee.request({ url: "/api/v1/purchases", body: { listingId: manifestCid } }, { // v1 name: the CID
      onDone: (body) => (purchase.value = body),
      onError: (message) => (error.value = message),
    });
  };

  const owned = p?.status === "complete";
  const q = quote.value;
  return (
    <section class="card buy-card" aria-live="polite" data-testid="buy">
      <header class="card-header">
        <h2>Buy</h2>
        {p && (
          <PurchaseStatusBadge
            status={p.status}
            label={owned ? "Owned" : undefined}
            data-testid="buy-status"
            data-status={p.status}
          />
        )}
      </header>

      {needsQuote && (
        q
          ? (
            <dl class="facts buy-quote" data-testid="buy-quote">
              <dt>Price</dt>
              <dd>
                <strong data-testid="buy-price">{formatEther(q.price)} KOS</strong>
              </dd>
              <dt>Seller{formatShare(q.split.seller, q.price)}</dt>
              <dd>{formatEther(q.split.seller)} KOS</dd>
              <dt>Gateway{formatShare(q.split.gateway, q.price)}</dt>
              <dd>{formatEther(q.split.gateway)} KOS</dd>
              <dt>Treasury{formatShare(q.split.treasury, q.price)}</dt>
              <dd>{formatEther(q.split.treasury)} KOS</dd>
              <dt>Typical gas</dt>
              <dd>
                {formatEther(q.gas.wei)} ETH{" "}
                <span class="muted-inline">· {BigInt(q.gas.units).toLocaleString("en-US")} gas</span>
              </dd>
            </dl>
          )
          : quoteError.value
          ? <p class="form-error" role="alert">Cannot preview the price: {quoteError.value}</p>
          : <p class="muted">Getting the price…</p>
      )}

      {p && (
        <ol class="buy-steps" data-testid="buy-steps">
          {steps.map((step, i) => {
            const reached = order.indexOf(p.status);
            const state = reached >= i ? "done" : reached + 1 === i && active ? "active" : "todo";
            return (
              <li key={step.status} class={`buy-step buy-step-${state}`} data-step={step.status}>
                {step.label}
                {step.status === "downloading" && (reached === i || reached > i) && (
                  <span class="muted-inline" data-testid="buy-percent">{percentOf(p)} %</span>
                )}
              </li>
            );
          })}
        </ol>
      )}

      {p && (p.status === "refunded" || p.status === "failed" || p.status === "disputed") && (
        <p class="form-error" role="alert" data-testid="buy-reason">
          {p.status === "refunded" ? "Refunded" : p.status === "disputed" ? "Disputed" : "Failed"}
          {p.error ? `: ${p.error}` : ""}
          {p.hasEvidence && (
            <>
              {" "}
              <a href={`/api/v1/purchases/${p.id}/evidence`} data-testid="buy-evidence">Evidence</a>
            </>
          )}
        </p>
      )}
      {error.value && <p class="form-error" role="alert">{error.value}</p>}

      {owned && p
        ? (
          <p>
            <a class="button" href={`/api/v1/purchases/${p.id}/data`} data-testid="buy-download" download>
              Download data
            </a>{" "}
            <span class="muted-inline">Licence {p.rights.licence}</span>
          </p>
        )
        : needsQuote && (
          <button
            type="button"
            class="button"
            data-testid="buy-button"
            disabled={fee.busy}
            onClick={buy}
          >
            {fee.state.value.kind === "estimating" ? "Asking the seller…" : p ? "Buy again" : "Buy"}
          </button>
        )}
      <FeeConfirm
        fee={fee}
        confirmLabel="Confirm and pay"
        what={q
          ? `Buy for ${
            formatEther(q.price)
          } KOS: lock the price in escrow now, confirm once the data is verified`
          : "Buy: lock the price in escrow now, confirm once the data is verified"}
      />
    </section>
  );
}

function percentOf(p: PurchaseView): number {
  const { chunksVerified, chunksTotal } = p.progress;
  if (p.status === "complete") return 100;
  return chunksTotal > 0 ? Math.floor((chunksVerified / chunksTotal) * 100) : 0;
}
