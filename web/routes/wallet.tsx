/** `/wallet` — this node's wallet: address and balance. */
import { EmptyState } from "../components/empty_state.tsx";
import type { NodeInfo } from "../facade.ts";
import { formatEther } from "../format.ts";
import { definePage } from "../page.ts";

export const walletPage = definePage<NodeInfo>({
  path: "/wallet",
  title: "Wallet",
  description: "The EVM wallet this node pays and gets paid with.",
  load: ({ facade, signal }) => facade.getNodeInfo({ signal }),
  Page: ({ data }) => (
    <>
      <div class="grid">
        <section class="card stat">
          <h2>Balance</h2>
          <p class="stat-value" data-testid="balance">
            {formatEther(data.chain.balance)} <span class="unit">ETH</span>
          </p>
          <p class="muted">Chain {data.chain.chainId}</p>
        </section>
        <section class="card">
          <h2>Address</h2>
          <p>
            <code class="break" data-testid="address">{data.address}</code>
          </p>
          <p class="muted">The key stays on this node; it is never sent or logged.</p>
        </section>
      </div>
      <EmptyState icon="wallet" title="No token activity yet">
        Token balances, escrowed sales and withdrawable earnings will show here once this node trades on the
        market.
      </EmptyState>
    </>
  ),
});
