/**
 * `/pools` — data unions: every pool this node knows (its own and those the network announced) with its
 * terms (kind, purpose, k, price, operator fee), this node's role in it, the members and versions of the
 * pools it operates; a PoolCreate island to create one and a PoolActions island per pool to join (with a
 * valid consent for its kind and purpose), leave, or publish a version.
 */
import { EmptyState } from "../components/empty_state.tsx";
import { Island } from "../components/island.tsx";
import type { ConsentView, PoolView } from "../../protocol/api/mod.ts";
import { SOURCE_KIND_INFO, SOURCE_KINDS } from "../../protocol/sources.ts";
import { formatEther } from "../format.ts";
import { PoolActions } from "../islands/pool_actions.tsx";
import { PoolCreate } from "../islands/pool_create.tsx";
import { definePage } from "../page.ts";

interface PoolsData {
  pools: PoolView[];
  consents: ConsentView[];
  /** Why the consents could not be read (no chain), when they could not. */
  consentsError: string | null;
}

export const poolsPage = definePage<PoolsData>({
  path: "/pools",
  title: "Pools",
  description: "Sell your data together with others: join a pool with your consent, or run one.",
  load: async ({ facade, signal }) => {
    const [{ pools }, consents] = await Promise.all([
      facade.listPools({ signal }),
      facade.listConsents({ signal }).then(
        (r) => ({ value: r.consents, error: null }),
        (err: Error) => ({ value: [] as ConsentView[], error: err.message }),
      ),
    ]);
    return { pools, consents: consents.value, consentsError: consents.error };
  },
  Page: ({ data }) => {
    const kinds = SOURCE_KINDS.map((kind) => ({ kind, label: SOURCE_KIND_INFO[kind].label }));
    return (
      <>
        <section class="data-section" aria-labelledby="pools-title">
          <h2 id="pools-title">
            Pools <span class="badge" data-testid="pools-count">{data.pools.length}</span>
          </h2>
          {data.pools.length === 0
            ? (
              <EmptyState icon="data" title="No pools yet">
                Pools the network announces show up here; create one below.
              </EmptyState>
            )
            : (
              <ul class="plain-list">
                {data.pools.map((p) => (
                  <li key={p.id} class="card" data-testid="pool" data-pool={p.id}>
                    <h3>
                      #{p.id} {p.title}{" "}
                      {p.role && <span class="badge" data-testid="pool-role">{p.role}</span>}
                    </h3>
                    <p>
                      <strong>{SOURCE_KIND_INFO[p.kind].label}</strong> for <em>{p.purpose}</em>
                      <span class="muted-inline">
                        · k = {p.k} · {formatEther(p.price)} KOS a version · operator fee{" "}
                        {(p.operatorFeeBps / 100).toFixed(2)} %
                      </span>
                    </p>
                    {p.description && <p class="muted">{p.description}</p>}
                    <p class="muted">
                      Operator <code class="break">{p.operator}</code>
                    </p>
                    {p.role === "operator" && (
                      <p class="muted" data-testid="pool-members">
                        {p.members.length} member{p.members.length === 1 ? "" : "s"} · {p.versions.length}
                        {" "}
                        version
                        {p.versions.length === 1 ? "" : "s"}
                      </p>
                    )}
                    {p.versions.length > 0 && (
                      <ul class="plain-list" data-testid="pool-versions">
                        {p.versions.map((v) => (
                          <li key={v.listingId}>
                            <a href={`/datasets/${v.manifestCid}`}>Listing {v.listingId}</a>: {v.rows} rows of
                            {" "}
                            {v.contributors.length} contributors
                            {v.excluded.length > 0 && `, ${v.excluded.length} left out`}
                          </li>
                        ))}
                      </ul>
                    )}
                    <Island
                      name="pool_actions"
                      component={PoolActions}
                      props={{
                        pool: { id: p.id, role: p.role, kind: p.kind, purpose: p.purpose },
                        consents: data.consents
                          .filter((c) => c.state === "valid" && c.kind === p.kind && c.purpose === p.purpose)
                          .map((c) => ({ id: c.id, expiresAt: c.expiresAt })),
                      }}
                    />
                  </li>
                ))}
              </ul>
            )}
          {data.consentsError && <p class="form-error" role="alert">{data.consentsError}</p>}
        </section>
        <section class="data-section" aria-labelledby="create-pool-title">
          <h2 id="create-pool-title">Run a pool</h2>
          <Island name="pool_create" component={PoolCreate} props={{ kinds }} />
        </section>
      </>
    );
  },
});
