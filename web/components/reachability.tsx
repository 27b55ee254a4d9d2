/**
 * How other nodes reach this one, for the Network page: public, private (only
 * through a relay or from its own network) or unknown, with the relay and
 * confirmed public addresses, whether it relays for others, how each peer is
 * connected, and the URL analytics snippets point at.
 */
import type { NodeInfo } from "../../protocol/api/mod.ts";

const statusText: Record<NodeInfo["reachability"]["status"], string> = {
  public: "Public: other nodes dial it directly.",
  private: "Private: other nodes reach it through a relay, or from its own network.",
  unknown: "Unknown: its public addresses are not confirmed yet.",
};

export function Reachability({ info, origin }: { info: NodeInfo; origin: string }) {
  const { status, publicAddresses, relayAddresses, relaying } = info.reachability;
  const relayed = info.connections.filter((c) => !c.direct).length;
  return (
    <section class="card" data-testid="reachability">
      <h2>
        Reachability <span class="badge" data-testid="reachability-status">{status}</span>
      </h2>
      <p>{statusText[status]}</p>
      <dl class="facts">
        <dt>Relays for others</dt>
        <dd data-testid="relaying">{relaying ? "yes (circuit relay v2)" : "no"}</dd>
        <dt>Peers</dt>
        <dd>
          {info.connections.length - relayed} direct, {relayed} through a relay
        </dd>
        <dt>Snippets point at</dt>
        <dd>
          <code class="break">{origin}</code>
        </dd>
      </dl>
      <AddressList title="Relay addresses" testid="relay-addresses" addresses={relayAddresses} />
      <AddressList title="Confirmed public addresses" testid="public-addresses" addresses={publicAddresses} />
    </section>
  );
}

function AddressList({ title, testid, addresses }: { title: string; testid: string; addresses: string[] }) {
  return (
    <>
      <h3>
        {title} <span class="badge">{addresses.length}</span>
      </h3>
      {addresses.length === 0 ? <p class="empty">None.</p> : (
        <ul class="addresses" data-testid={testid}>
          {addresses.map((addr) => (
            <li key={addr}>
              <code>{addr}</code>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
