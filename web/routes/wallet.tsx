/**
 * `/wallet` — this node's wallet: ETH and KOS balances, stakes, and payouts with a withdraw button;
 * on a dev network, a "Get test tokens" button (the faucet); earnings from pools and mining with Claim
 * buttons, and the mining schedule.
 */
import { EmptyState } from "../components/empty_state.tsx";
import { Island } from "../components/island.tsx";
import { TableCard } from "../components/table_card.tsx";
import type { EarningsView, FaucetInfo, WalletView } from "../../protocol/api/mod.ts";
import { formatDay, formatEther } from "../format.ts";
import { WalletWithdraw } from "../islands/wallet_withdraw.tsx";
import { FaucetButton } from "../islands/faucet_button.tsx";
import { EarningsClaim } from "../islands/earnings_claim.tsx";
import { EarningsSection } from "../components/earnings_section.tsx";
import { definePage } from "../page.ts";

/**
 * The wallet, the faucet when the node is on a dev network (`null` elsewhere), and the earnings
 * (`null` on a chain without the contracts).
 */
export type WalletPageData = WalletView & { faucet: FaucetInfo | null; earnings: EarningsView | null };

export const walletPage = definePage<WalletPageData>({
  path: "/wallet",
  title: "Wallet",
  description: "The EVM wallet this node pays and gets paid with.",
  load: async ({ facade, signal }) => {
    const [wallet, faucet, earnings] = await Promise.all([
      facade.getWallet({ signal }),
      // No faucet off a dev network (FaucetUnavailableError), or when the chain is down: no button.
      facade.getFaucet({ signal }).catch(() => null),
      // No earnings on a chain without the contracts, or when the chain is down.
      facade.getEarnings({ signal }).catch(() => null),
    ]);
    return { ...wallet, faucet, earnings };
  },
  Page: ({ data }) => (
    <>
      <div class="grid">
        <section class="card stat">
          <h2>Balance</h2>
          <p class="stat-value" data-testid="balance">
            {formatEther(data.balances.eth)} <span class="unit">ETH</span>
          </p>
          <p class="stat-value" data-testid="token-balance">
            {formatEther(data.balances.token)} <span class="unit">KOS</span>
          </p>
          <p class="muted">Chain {data.chainId}</p>
        </section>
        {data.contracts && (
          <Island name="wallet_withdraw" component={WalletWithdraw} props={{ payouts: data.payouts }} />
        )}
        {data.faucet && (
          <Island
            name="faucet_button"
            component={FaucetButton}
            props={{ amount: data.faucet.amount, availableIn: data.faucet.availableIn }}
          />
        )}
        <section class="card">
          <h2>Address</h2>
          <p>
            <code class="break" data-testid="address">{data.address}</code>
          </p>
          <p class="muted">The key stays on this node; it is never sent or logged.</p>
        </section>
      </div>
      {!data.contracts
        ? (
          <EmptyState icon="wallet" title="No Kosmos contracts on this chain">
            Token balances, stakes and payouts appear once the node runs on a chain with the Kosmos contracts
            (its own dev chain, or a devnet).
          </EmptyState>
        )
        : data.stakes.length === 0
        ? (
          <EmptyState icon="wallet" title="No stakes yet">
            Stake tokens on a dataset you publish to list it in the registry; your stakes show here.
          </EmptyState>
        )
        : (
          <TableCard
            title="Stakes"
            class="preview"
            data-testid="stakes"
            head={
              <>
                <th>Listing</th>
                <th>Manifest</th>
                <th>Stake</th>
                <th>Challenges</th>
                <th>Withdrawal</th>
              </>
            }
          >
            {data.stakes.map((s) => (
              <tr key={s.listingId} data-listing-id={s.listingId}>
                <td>#{s.listingId}</td>
                <td>
                  <code title={s.manifestCid}>{s.manifestCid}</code>
                </td>
                <td>{formatEther(s.stake)} KOS</td>
                <td>{s.challengeCount}</td>
                <td>{s.withdrawableAt === null ? "—" : `from ${formatDay(s.withdrawableAt * 1000)}`}</td>
              </tr>
            ))}
          </TableCard>
        )}
      {data.earnings && (
        <EarningsSection earnings={data.earnings}>
          <Island
            name="earnings_claim"
            component={EarningsClaim}
            props={{ earnings: [...data.earnings.pools, ...data.earnings.epochs] }}
          />
        </EarningsSection>
      )}
    </>
  ),
});
