/**
 * Island: "Get test tokens" on the Wallet page of a node on a dev network.
 * Posts `POST /api/v1/faucet` (for this node's wallet) and shows the drip or
 * the node's message. The node pays the gas in the dev network's test ether,
 * so unlike the other signing buttons it asks for no confirmation; it says so.
 */
import { useSignal } from "@preact/signals";
import { formatEther } from "../format.ts";

export interface FaucetButtonProps {
  /** Tokens per drip, base units. */
  amount: string;
  /** Seconds until this node's wallet may ask again, by the chain's clock (0: now). */
  availableIn: number;
  /** @default "/api/v1/faucet" */
  endpoint?: string;
}

type State =
  | { kind: "idle" }
  | { kind: "pending" }
  | { kind: "done"; tokens: string; eth: string; txHash: string }
  | { kind: "error"; message: string };

export function FaucetButton({ amount, availableIn, endpoint = "/api/v1/faucet" }: FaucetButtonProps) {
  const state = useSignal<State>({ kind: "idle" });
  const waiting = availableIn > 0;

  const ask = async () => {
    state.value = { kind: "pending" };
    try {
      const response = await fetch(endpoint, { method: "POST", headers: { accept: "application/json" } });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        state.value = {
          kind: "error",
          message: body?.error?.message ?? `The node answered ${response.status}`,
        };
        return;
      }
      state.value = { kind: "done", tokens: body.tokens, eth: body.eth, txHash: body.txHash };
    } catch (err) {
      state.value = { kind: "error", message: `Cannot reach the node: ${(err as Error).message}` };
    }
  };

  const s = state.value;
  return (
    <section class="card stat" aria-live="polite" data-testid="faucet">
      <h2>Test tokens</h2>
      <p class="muted">
        This is a dev network: its faucet gives {formatEther(amount)}{" "}
        KOS, and ether for gas, once an hour. The node pays the gas in test ether, so there is nothing to
        confirm.
      </p>
      <button
        type="button"
        class="button"
        data-testid="faucet-button"
        disabled={s.kind === "pending" || s.kind === "done" || waiting}
        onClick={ask}
      >
        {s.kind === "pending" ? "Getting test tokens…" : "Get test tokens"}
      </button>
      {waiting && (
        <p class="muted" data-testid="faucet-wait">
          This wallet had its drip; ask again in {Math.ceil(availableIn / 60)} min.
        </p>
      )}
      {s.kind === "done" && (
        <p class="muted" data-testid="faucet-status" data-state="done">
          Got {formatEther(s.tokens)} KOS{BigInt(s.eth) > 0n ? ` and ${formatEther(s.eth)} ETH` : ""}{" "}
          in transaction <code class="break">{s.txHash}</code>
        </p>
      )}
      {s.kind === "error" && (
        <p class="error" role="alert" data-testid="faucet-status" data-state="error">{s.message}</p>
      )}
    </section>
  );
}
