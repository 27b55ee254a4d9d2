/**
 * A gateway from the command line (`kosmos gateway MANIFEST_CID`, which names a listing's gateway, stays in
 * `listings.ts`):
 *
 * - `kosmos gateway owner add LABEL` creates an identity proxy for an owner without a wallet;
 *   `owner list`; `owner takeover ADDRESS --owner WALLET` hands a proxy's listings, balance and attestations
 *   to the owner's own wallet and erases the proxy key;
 * - `kosmos gateway sensor add SENSOR_ID --owner ADDRESS [--key HEX] [--label TEXT]` registers a sensor (the
 *   gateway signs its attestation); `sensor list`; `sensor consent SENSOR_ID grant|revoke` (proxy owners);
 * - `kosmos gateway client add LABEL` creates an ingest key (printed once); `client list`;
 * - `kosmos gateway stats` shows what was accepted and rejected, by reason, sensor and client.
 */
import type {
  GatewayStatsView,
  IngestClientView,
  OwnerView,
  SensorView,
} from "../../protocol/api/streams.ts";
import {
  callApi,
  type Command,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  formatTime,
  output,
  runCommand,
  UsageError,
} from "./command.ts";

export const GATEWAY_ADMIN_USAGE =
  `Usage: kosmos gateway owner add LABEL | owner list | owner takeover ADDRESS --owner WALLET
       kosmos gateway sensor add SENSOR_ID --owner ADDRESS [--key HEX] [--label TEXT]
       kosmos gateway sensor list | sensor consent SENSOR_ID grant|revoke
       kosmos gateway client add LABEL | client list
       kosmos gateway stats
       kosmos gateway MANIFEST_CID            (the gateway of a listing)

owner    owners this gateway acts for: "add" creates an identity proxy (a key this node holds for an owner
         who has no wallet yet); "takeover" moves the proxy's listings, balance and attestations to the
         owner's own wallet and erases the proxy key
sensor   sensors registered here: the gateway signs an attestation binding the sensor to its owner; with
         --key (an Ed25519 public key, 0x and 64 hex digits) every reading must carry the sensor's signature
client   ingest keys for POST /api/v1/ingest/readings (the key is printed once; it can do nothing else)
stats    readings accepted and rejected, by reason, sensor and client, and the MQTT connection

Flags:
  --owner ADDRESS  the owner's wallet or proxy address (sensor add), the owner's own wallet (owner takeover)
  --key HEX        the sensor's Ed25519 public key (sensor add)
  --label TEXT     a name for the sensor (sensor add)
${COMMON_FLAGS_USAGE}
`;

/** First words that make `kosmos gateway` this command rather than the listing lookup. */
export const GATEWAY_ADMIN_WORDS = ["owner", "sensor", "client", "stats"];

/** Runs `kosmos gateway owner|sensor|client|stats …`. */
export function runGatewayAdmin(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = {
    name: "gateway",
    usage: GATEWAY_ADMIN_USAGE,
    operands: [1, 4] as const,
    flags: ["owner", "key", "label"],
  };
  return runCommand(spec, args, io, async (cmd) => {
    const [area, verb, ...rest] = cmd.positionals;
    const key = `${area} ${verb ?? ""}`.trim();
    const want = (n: number, what: string) => {
      if (rest.length !== n) throw new UsageError(`gateway ${key}: expected ${what} (try --help)`);
    };
    switch (key) {
      case "owner add":
        want(1, "LABEL");
        return void await ownerAdd(cmd, rest[0]);
      case "owner list":
        want(0, "no arguments");
        return void await ownerList(cmd);
      case "owner takeover":
        want(1, "ADDRESS");
        return void await ownerTakeover(cmd, rest[0]);
      case "sensor add":
        want(1, "SENSOR_ID");
        return void await sensorAdd(cmd, rest[0]);
      case "sensor list":
        want(0, "no arguments");
        return void await sensorList(cmd);
      case "sensor consent":
        want(2, "SENSOR_ID grant|revoke");
        return void await sensorConsent(cmd, rest[0], rest[1]);
      case "client add":
        want(1, "LABEL");
        return void await clientAdd(cmd, rest[0]);
      case "client list":
        want(0, "no arguments");
        return void await clientList(cmd);
      case "stats":
        return void await stats(cmd);
      default:
        throw new UsageError(
          `gateway: unknown subcommand "${
            key.slice(0, 40)
          }"; use owner add|list|takeover, sensor add|list|consent, ` +
            "client add|list or stats",
        );
    }
  });
}

function describeOwner(o: OwnerView): string {
  return `${o.address}  ${o.label}  ${
    o.kind === "proxy"
      ? "identity proxy (key held by this gateway)"
      : o.takenOverBy
      ? `taken over by ${o.takenOverBy}${o.takenOverAt ? ` at ${formatTime(o.takenOverAt)}` : ""}`
      : "own wallet"
  }`;
}

function describeSensor(s: SensorView): string {
  return `${s.sensorId}${s.label ? ` (${s.label})` : ""}  owner ${s.owner}  consent ${
    s.consentValid ? "valid" : "not valid"
  }  accepted ${s.accepted}, rejected ${s.rejected}${s.sensorKey ? "  signed readings" : ""}${
    s.lastReadingAt ? `  last ${formatTime(s.lastReadingAt)}` : ""
  }`;
}

async function ownerAdd(cmd: Command, label: string): Promise<void> {
  const owner = await callApi<OwnerView>(cmd, "/api/v1/gateway/owners", {
    body: { label },
    what: "create an owner",
  });
  output(cmd, owner, () => [`Created identity proxy ${owner.address} for "${owner.label}"`]);
}

async function ownerList(cmd: Command): Promise<void> {
  const { owners } = await callApi<{ owners: OwnerView[] }>(cmd, "/api/v1/gateway/owners", {
    what: "list owners",
  });
  output(cmd, { owners }, () => owners.length === 0 ? ["No owners yet."] : owners.map(describeOwner));
}

async function ownerTakeover(cmd: Command, address: string): Promise<void> {
  const wallet = cmd.flags.get("owner");
  if (!wallet || !/^0x[0-9a-fA-F]{40}$/.test(wallet)) {
    throw new UsageError(
      "gateway owner takeover: give --owner WALLET, the owner's own address (0x and 40 hex digits)",
    );
  }
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) {
    throw new UsageError(`gateway owner takeover: "${address.slice(0, 60)}" is not an address`);
  }
  cmd.printError(
    `Handing ${address} over to ${wallet} (listings, balance and attestations; the proxy key is erased)…`,
  );
  const owner = await callApi<OwnerView>(cmd, `/api/v1/gateway/owners/${address}/takeover`, {
    body: { owner: wallet },
    what: `hand ${address} over`,
  });
  output(cmd, owner, () => [describeOwner(owner)]);
}

async function sensorAdd(cmd: Command, sensorId: string): Promise<void> {
  const owner = cmd.flags.get("owner");
  if (!owner) throw new UsageError("gateway sensor add: give --owner ADDRESS (an owner's wallet or proxy)");
  const body = {
    sensorId,
    owner,
    ...(cmd.flags.has("key") && { sensorKey: cmd.flags.get("key") }),
    ...(cmd.flags.has("label") && { label: cmd.flags.get("label") }),
  };
  const sensor = await callApi<SensorView>(cmd, "/api/v1/gateway/sensors", {
    body,
    what: "register the sensor",
  });
  output(cmd, sensor, () => [`Registered ${describeSensor(sensor)}`, `  attestation ${sensor.attestation}`]);
}

async function sensorList(cmd: Command): Promise<void> {
  const { sensors } = await callApi<{ sensors: SensorView[] }>(cmd, "/api/v1/gateway/sensors", {
    what: "list sensors",
  });
  output(
    cmd,
    { sensors },
    () => sensors.length === 0 ? ["No sensors registered."] : sensors.map(describeSensor),
  );
}

async function sensorConsent(cmd: Command, sensorId: string, verb: string): Promise<void> {
  if (verb !== "grant" && verb !== "revoke") {
    throw new UsageError(`gateway sensor consent: say grant or revoke, not "${verb.slice(0, 20)}"`);
  }
  const sensor = await callApi<SensorView>(
    cmd,
    `/api/v1/gateway/sensors/${encodeURIComponent(sensorId)}/consent`,
    { method: verb === "grant" ? "POST" : "DELETE", what: `${verb} consent for ${sensorId.slice(0, 80)}` },
  );
  output(cmd, sensor, () => [describeSensor(sensor)]);
}

async function clientAdd(cmd: Command, label: string): Promise<void> {
  const created = await callApi<{ client: IngestClientView; key: string }>(cmd, "/api/v1/gateway/clients", {
    body: { label },
    what: "create an ingest client",
  });
  output(cmd, created, () => [
    `Created ingest client ${created.client.id} ("${created.client.label}"). Its key, shown only now:`,
    created.key,
  ]);
}

async function clientList(cmd: Command): Promise<void> {
  const { clients } = await callApi<{ clients: IngestClientView[] }>(cmd, "/api/v1/gateway/clients", {
    what: "list ingest clients",
  });
  output(
    cmd,
    { clients },
    () =>
      clients.length === 0
        ? ["No ingest clients."]
        : clients.map((c) => `${c.id}  ${c.label}  accepted ${c.accepted}, rejected ${c.rejected}`),
  );
}

async function stats(cmd: Command): Promise<void> {
  const view = await callApi<GatewayStatsView>(cmd, "/api/v1/gateway/stats", {
    what: "read the gateway's stats",
  });
  output(cmd, view, () => {
    const rejected = Object.entries(view.rejected).filter(([, n]) => n > 0);
    return [
      `Accepted ${view.accepted} readings; rejected ${
        rejected.length === 0 ? "none" : rejected.map(([r, n]) => `${r} ${n}`).join(", ")
      }`,
      `MQTT: ${
        view.mqtt.url === null
          ? "not configured"
          : `${view.mqtt.url} ${view.mqtt.connected ? "connected" : "disconnected"}`
      }, ${view.mqtt.received} messages`,
      ...view.bySensor.map((s) => `  sensor ${s.sensorId}: accepted ${s.accepted}`),
      ...view.byClient.map((c) => `  client ${c.label}: accepted ${c.accepted}`),
    ];
  });
}
