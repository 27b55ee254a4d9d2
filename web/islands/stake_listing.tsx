/**
 * Island: the registry stake of a dataset, with the action this node's
 * wallet may take on it. On the seller's own dataset a "Stake to list" form
 * posts `POST /api/v1/stakes { manifestCid, amount }` (which lists it, or
 * adds to the listing); on anyone else's staked dataset a "Challenge" form
 * posts `POST /api/v1/challenges { listingId, amount }`. Either first shows
 * the fee estimated on the chain (`?preview=1`, nothing signed) and sends
 * only on Confirm; then the transaction, or the node's error message.
 */
import { useSignal } from "@preact/signals";
import { formatEther } from "../format.ts";
import { FeeConfirm, useFeeConfirm } from "./confirm_fee.tsx";

export interface StakeListingProps {
  manifestCid: string;
  /** Active stake in token base units, decimal string. */
  stake: string;
  /** Open challenges. */
  challenges: number;
  /** Active registry listing ids (decimal). */
  listingIds: string[];
  /** Whether this node's wallet is the seller: it stakes; others challenge. */
  own: boolean;
}

type State =
  | { kind: "idle" }
  | { kind: "done"; message: string; txHash: string }
  | { kind: "error"; message: string };

/** What `POST /api/v1/stakes` and `POST /api/v1/challenges` answer. */
interface StakeAnswer {
  listingId: string;
  created?: boolean;
  txHash: string;
}

export function StakeListing(props: StakeListingProps) {
  const stake = useSignal(props.stake);
  const challenges = useSignal(props.challenges);
  const listingIds = useSignal(props.listingIds);
  const amount = useSignal(props.own ? "100" : "10");
  const target = useSignal(props.listingIds[0] ?? "");
  const state = useSignal<State>({ kind: "idle" });

  const fee = useFeeConfirm<StakeAnswer>();
  /** What the transaction waiting for Confirm does, fixed when it was previewed. */
  const what = useSignal("");

  /** Previews the stake or challenge (fee estimated, nothing signed); Confirm sends it. */
  const submit = (e: Event) => {
    e.preventDefault();
    state.value = { kind: "idle" };
    const [url, body] = props.own
      ? ["/api/v1/stakes", { manifestCid: props.manifestCid, amount: amount.value }]
      : ["/api/v1/challenges", { listingId: target.value, amount: amount.value }];
    const staked = amount.value;
    what.value = props.own
      ? `Stake ${staked} KOS ${listingIds.value.length === 0 ? "to list this dataset" : "more"}`
      : `Challenge listing #${target.value} with ${staked} KOS`;
    void fee.request({ url, body }, {
      onDone: async (result) => {
        state.value = {
          kind: "done",
          message: props.own
            ? (result.created ? `Listed as #${result.listingId}` : `Staked ${staked} KOS more`)
            : `Challenged listing #${result.listingId}`,
          txHash: result.txHash,
        };
        await refresh();
      },
      onError: (message) => (state.value = { kind: "error", message }),
    });
  };

  /** Reads the listing again: the node's catalog follows its own transactions before answering. */
  const refresh = async () => {
    const response = await fetch(`/api/v1/listings/${encodeURIComponent(props.manifestCid)}`, {
      headers: { accept: "application/json" },
    });
    if (!response.ok) return;
    const listing = await response.json();
    stake.value = listing.stake;
    challenges.value = listing.challenges;
    listingIds.value = listing.onChain;
    if (!listingIds.value.includes(target.value)) target.value = listingIds.value[0] ?? "";
  };

  const s = state.value;
  const canChallenge = !props.own && listingIds.value.length > 0;
  return (
    <section class="card stake-card" aria-live="polite" data-testid="stake">
      <header class="card-header">
        <h2>Stake</h2>
        <span
          class={`status ${challenges.value > 0 ? "status-under-replicated" : "status-replicated"}`}
          data-testid="stake-challenges"
        >
          <span class="status-dot" aria-hidden="true" />
          {challenges.value} open challenge{challenges.value === 1 ? "" : "s"}
        </span>
      </header>
      <p class="stat-value" data-testid="stake-amount">
        {formatEther(stake.value)} <span class="unit">KOS staked</span>
      </p>
      <p class="muted">
        {listingIds.value.length === 0
          ? "Not listed in the registry yet. Listings rank by stake."
          : `Registry listing${listingIds.value.length === 1 ? "" : "s"} ${
            listingIds.value.map((id) => `#${id}`).join(", ")
          }. Listings rank by stake.`}
      </p>
      {(props.own || canChallenge) && (
        <form class="stake-form" onSubmit={submit} data-testid={props.own ? "stake-form" : "challenge-form"}>
          {canChallenge && listingIds.value.length > 1 && (
            <label>
              <span>Listing</span>
              <select
                value={target.value}
                onChange={(e) => target.value = e.currentTarget.value}
              >
                {listingIds.value.map((id) => <option key={id} value={id}>#{id}</option>)}
              </select>
            </label>
          )}
          <label>
            <span>{props.own ? "Stake" : "Challenge stake"}</span>
            <input
              type="text"
              inputMode="decimal"
              name="amount"
              pattern="\d{1,9}(\.\d{1,18})?"
              required
              value={amount.value}
              onInput={(e) =>
                amount.value = e.currentTarget.value}
            />
            <span class="unit">KOS</span>
          </label>
          <button type="submit" class="button" disabled={fee.busy} data-testid="stake-submit">
            {fee.state.value.kind === "estimating"
              ? "Estimating…"
              : props.own
              ? (listingIds.value.length === 0 ? "Stake to list" : "Add stake")
              : "Challenge"}
          </button>
        </form>
      )}
      <FeeConfirm fee={fee} what={what.value} />
      {s.kind === "done" && (
        <p class="muted" data-testid="stake-status" data-state="done">
          {s.message} in transaction <code class="break">{s.txHash}</code>
        </p>
      )}
      {s.kind === "error" && (
        <p class="error" role="alert" data-testid="stake-status" data-state="error">{s.message}</p>
      )}
    </section>
  );
}
