/**
 * Island: the sale delegates of one of this node's listings: nodes that quote
 * and reveal keys for it while this node is offline (the escrow still pays
 * this wallet). "Add delegate" posts `POST /api/v1/listings/:id/delegates
 * { peerId }` (the node approves the delegate's wallet on the escrow and hands
 * it the key sealed to it); "Remove" sends
 * `DELETE /api/v1/listings/:id/delegates/:address` (the escrow refuses its
 * quotes from then on). Both go through the fee confirmation.
 */
import { useSignal } from "@preact/signals";
import type { DelegateView, SaleDelegateView } from "../../protocol/api/mod.ts";
import { FeeConfirm, useFeeConfirm } from "./confirm_fee.tsx";

export interface ListingDelegatesProps {
  manifestCid: string;
  delegates: SaleDelegateView[];
  /** Whether the listing is staked in the registry (delegates need a registry listing). */
  listed: boolean;
}

/** A libp2p peer id as printed: base58btc (`12D3KooW…`, `Qm…`) or a CIDv1 in base32 (`bafz…`). */
const PEER_ID = /^(?:[1-9A-HJ-NP-Za-km-z]{46,60}|b[a-z2-7]{50,100})$/;

/** Why `peerId` cannot be a peer id, or `null` when it may be one. */
export function checkPeerId(peerId: string): string | null {
  if (peerId === "") return "Enter the peer id of the node that will sell for you (12D3KooW…).";
  if (!PEER_ID.test(peerId)) {
    return `"${peerId.slice(0, 60)}" is not a peer id; it looks like 12D3KooW… (see Network).`;
  }
  return null;
}

export function ListingDelegates(props: ListingDelegatesProps) {
  const delegates = useSignal(props.delegates);
  const peerId = useSignal("");
  const invalid = useSignal<string | null>(null);
  const what = useSignal("");
  const result = useSignal<string | null>(null);
  const error = useSignal<string | null>(null);
  const add = useFeeConfirm<DelegateView>();
  const remove = useFeeConfirm<{ delegate: `0x${string}`; txHash: string }>();
  const base = `/api/v1/listings/${encodeURIComponent(props.manifestCid)}/delegates`;
  const busy = add.busy || remove.busy;

  const submit = (e: Event) => {
    e.preventDefault();
    const id = peerId.value.trim();
    invalid.value = checkPeerId(id);
    if (invalid.value) return;
    result.value = error.value = null;
    remove.cancel();
    what.value = `Let node …${id.slice(-8)} sell this listing for you`;
    void add.request({ url: base, body: { peerId: id } }, {
      onDone: (d) => {
        if (!delegates.value.some((x) => x.delegate.toLowerCase() === d.delegate.toLowerCase())) {
          delegates.value = [...delegates.value, {
            registryListingId: d.registryListingId,
            delegate: d.delegate,
          }];
        }
        peerId.value = "";
        result.value = `Node …${d.peerId.slice(-8)} (wallet ${d.delegate}) now sells this listing`;
      },
      onError: (message) => error.value = message,
    });
  };

  const drop = (d: SaleDelegateView) => {
    result.value = error.value = null;
    add.cancel();
    what.value = `Stop ${d.delegate} from selling this listing`;
    void remove.request({ url: `${base}/${d.delegate}`, method: "DELETE" }, {
      onDone: (r) => {
        delegates.value = delegates.value.filter((x) => x.delegate !== d.delegate);
        result.value = `${r.delegate} no longer sells this listing`;
      },
      onError: (message) => error.value = message,
    });
  };

  return (
    <div class="listing-delegates" aria-live="polite" data-testid="delegates">
      {delegates.value.length === 0
        ? <p class="muted" data-testid="no-delegates">No delegate sells this listing.</p>
        : (
          <ul class="plain-list">
            {delegates.value.map((d) => (
              <li key={d.delegate} data-testid="delegate" data-delegate={d.delegate}>
                <code class="break">{d.delegate}</code>{" "}
                <button
                  type="button"
                  class="button button-secondary"
                  disabled={busy}
                  onClick={() =>
                    drop(d)}
                  aria-label={`Remove delegate ${d.delegate}`}
                >
                  Remove
                </button>
              </li>
            ))}
          </ul>
        )}
      {props.listed
        ? (
          <form class="stake-form" onSubmit={submit} noValidate data-testid="delegate-form">
            <label>
              <span>Delegate's peer id</span>
              <input
                type="text"
                name="peerId"
                placeholder="12D3KooW…"
                autoComplete="off"
                spellcheck={false}
                required
                aria-invalid={invalid.value ? "true" : undefined}
                value={peerId.value}
                onInput={(e) => {
                  peerId.value = e.currentTarget.value;
                  invalid.value = null;
                }}
              />
            </label>
            <button type="submit" class="button" disabled={busy}>Add delegate</button>
          </form>
        )
        : (
          <p class="muted">
            Stake the listing to name delegates: the escrow approves them per registry listing.
          </p>
        )}
      {invalid.value && <p class="error" role="alert" data-testid="delegate-invalid">{invalid.value}</p>}
      <FeeConfirm fee={add} what={what.value} />
      <FeeConfirm fee={remove} what={what.value} />
      {result.value && <p class="muted" data-testid="delegate-status" data-state="done">{result.value}</p>}
      {error.value && (
        <p class="error" role="alert" data-testid="delegate-status" data-state="error">{error.value}</p>
      )}
    </div>
  );
}
