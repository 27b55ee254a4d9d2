/**
 * AutoNAT (v1) with dial-backs on a connection of their own. A peer asks this
 * node to dial its addresses back, and the AutoNAT server of
 * `@libp2p/autonat` 3.0.x opens that connection with the connection manager,
 * which hands back the connection already open to that peer, then closes it
 * when the check is done. Every check so cut the link it was asked over
 * (the relay's link to a home node, a buyer's link to the relay), and the
 * reconnections that followed ran into the relay's inbound rate limit. Here
 * the server's dial-back always opens a new connection (`force`), which it
 * then closes, and the connection the request came over stays up.
 *
 * ```ts
 * services: { autoNAT: autoNATService() }
 * ```
 */
import { autoNAT, type AutoNATComponents, type AutoNATServiceInit } from "@libp2p/autonat";
import type { Multiaddr } from "@multiformats/multiaddr";

type OpenConnection = AutoNATComponents["connectionManager"]["openConnection"];

/** The `autoNAT` libp2p service, whose dial-backs never reuse (and so never close) an open connection. */
export function autoNATService(init?: AutoNATServiceInit): (components: AutoNATComponents) => unknown {
  const create = autoNAT(init);
  return (components) => {
    const manager = components.connectionManager;
    // The server dials back one multiaddr at a time; the client dials peers by their address list.
    const openConnection: OpenConnection = (target, options) =>
      manager.openConnection(target, isOneMultiaddr(target) ? { ...options, force: true } : options);
    const connectionManager = new Proxy(manager, {
      get: (target, prop) => {
        if (prop === "openConnection") return openConnection;
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    return create(
      new Proxy(components, {
        get: (target, prop, receiver) =>
          prop === "connectionManager" ? connectionManager : Reflect.get(target, prop, receiver),
      }),
    );
  };
}

function isOneMultiaddr(target: unknown): target is Multiaddr {
  return typeof target === "object" && target !== null && !Array.isArray(target) &&
    typeof (target as { getComponents?: unknown }).getComponents === "function";
}
