/** `/network` — this node's identity, chain connection and live peers. */
import { Island } from "../components/island.tsx";
import type { NodeInfo } from "../../protocol/api/mod.ts";
import { formatEther } from "../format.ts";
import { PeerList } from "../islands/peer_list.tsx";
import { Reachability } from "../components/reachability.tsx";
import { definePage } from "../page.ts";

export const networkPage = definePage<NodeInfo & { origin: string }>({
  path: "/network",
  title: "Network",
  description: "Who this node is, where it listens, and who it is talking to.",
  load: async ({ facade, origin, signal }) => ({ ...await facade.getNodeInfo({ signal }), origin }),
  Page: ({ data }) => (
    <>
      <div class="grid">
        <section class="card">
          <h2>This node</h2>
          <dl class="facts">
            <dt>Peer id</dt>
            <dd>
              <code class="break" data-testid="peer-id">{data.peerId}</code>
            </dd>
            <dt>Version</dt>
            <dd>{data.version}</dd>
          </dl>
        </section>
        <section class="card">
          <h2>Wallet</h2>
          <dl class="facts">
            <dt>Address</dt>
            <dd>
              <code class="break">{data.address}</code>
            </dd>
            <dt>Balance</dt>
            <dd>
              <strong>{formatEther(data.chain.balance)}</strong> ETH
            </dd>
          </dl>
        </section>
        <section class="card">
          <h2>Chain</h2>
          <dl class="facts">
            <dt>Chain id</dt>
            <dd>{data.chain.chainId}</dd>
            <dt>RPC</dt>
            <dd>
              <code class="break">{data.chain.rpcUrl}</code>
            </dd>
          </dl>
        </section>
      </div>
      <section class="card">
        <h2>
          Listen addresses <span class="badge">{data.listen.length}</span>
        </h2>
        {data.listen.length === 0
          ? <p class="empty">This node is not listening on any address.</p>
          : (
            <ul class="addresses">
              {data.listen.map((addr) => (
                <li key={addr}>
                  <code>{addr}</code>
                </li>
              ))}
            </ul>
          )}
      </section>
      <Reachability info={data} origin={data.origin} />
      <Island name="peer_list" component={PeerList} props={{ peers: data.peers }} />
    </>
  ),
});
