/** `/arbitration` — for the registry's arbiter: listings with open challenges, and buttons to resolve them. */
import { EmptyState } from "../components/empty_state.tsx";
import { Island } from "../components/island.tsx";
import type { ChallengeView } from "../../protocol/api/mod.ts";
import { formatEther, shortenId } from "../format.ts";
import { WalletResolve } from "../islands/wallet_resolve.tsx";
import { definePage } from "../page.ts";

export interface ArbitrationData {
  arbiter: boolean;
  challenges: ChallengeView[];
}

export const arbitrationPage = definePage<ArbitrationData>({
  path: "/arbitration",
  title: "Arbitration",
  description: "Challenged listings waiting for the arbiter's decision.",
  load: async ({ facade, signal }) => {
    const arbiter = await facade.isArbiter({ signal });
    return { arbiter, challenges: arbiter ? await facade.listChallenges({ signal }) : [] };
  },
  Page: ({ data }) =>
    !data.arbiter
      ? (
        <EmptyState icon="data" title="This node is not the arbiter">
          Only the registry's arbiter resolves challenges. Anyone can challenge a listing with a stake.
        </EmptyState>
      )
      : data.challenges.length === 0
      ? (
        <EmptyState icon="data" title="No open challenges">
          Listings that someone challenges with a stake appear here.
        </EmptyState>
      )
      : (
        <div class="grid">
          {data.challenges.map((c) => (
            <section class="card" key={c.listingId} data-listing-id={c.listingId} data-testid="challenge">
              <h2>
                Listing #{c.listingId}{" "}
                <span class="badge">
                  {c.challengeCount} challenges, {formatEther(c.challenged)} / {formatEther(c.threshold)} KOS
                </span>
              </h2>
              <p>
                <code class="break">{c.manifestCid}</code>
              </p>
              <p class="muted">
                Owner <code title={c.owner}>{shortenId(c.owner, 8, 6)}</code>, stake {formatEther(c.stake)}
                {" "}
                KOS
              </p>
              <ul>
                {c.challenges.map((ch, i) => (
                  <li key={i}>
                    <code title={ch.challenger}>{shortenId(ch.challenger, 8, 6)}</code> staked{" "}
                    {formatEther(ch.amount)} KOS
                  </li>
                ))}
              </ul>
              <Island
                name="wallet_resolve"
                component={WalletResolve}
                props={{ listingId: c.listingId, ready: c.resolvable }}
              />
            </section>
          ))}
        </div>
      ),
});
