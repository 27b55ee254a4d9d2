/**
 * Streams from the command line:
 *
 * - `kosmos streams` lists the streams this node knows (its own and announced ones);
 * - `kosmos stream publish --title … --sensors s1,s2 --schema temp:number,open:boolean --price KOS
 *   --licence ID [--epoch-seconds N] [--description …] [--stake KOS]` publishes one from sensors registered at
 *   this gateway (previews the fee and asks first; `--yes` accepts it); `kosmos stream show ID` shows one;
 * - `kosmos subscribe STREAM_ID --seconds N [--targets T1,T2]` buys the span (whole epochs) as one key sale;
 *   `kosmos subscribe --renew SUBSCRIPTION_ID --seconds N` buys the N seconds after its last epoch bought;
 * - `kosmos subscriptions [ID]` lists the subscriptions, or shows one.
 */
import type {
  RenewalPreview,
  StreamView,
  SubscriptionPreview,
  SubscriptionView,
} from "../../protocol/api/streams.ts";
import {
  callApi,
  callSigned,
  type Command,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  confirmPreview,
  formatKos,
  formatTime,
  output,
  runCommand,
  UsageError,
  YES_USAGE,
} from "./command.ts";

export const STREAMS_USAGE = `Usage: kosmos streams [--json]

Lists the streams this node knows: its own and those other nodes announced, with their sensors, price and
epoch length.

Flags:
${COMMON_FLAGS_USAGE}
`;

export const STREAM_USAGE =
  `Usage: kosmos stream publish --title TEXT --sensors ID,ID --schema NAME:TYPE,… --price KOS --licence ID
                             [--epoch-seconds N] [--description TEXT] [--stake KOS] [--yes] [--json]
       kosmos stream show STREAM_ID [--json]

publish  publishes a stream of sensors registered at this gateway (all of one owner), lists it on the
         registry and announces it; readings are sealed epoch by epoch, each under its own key
show     one stream with its latest epochs

Flags:
  --sensors IDS        sensor ids, comma-separated (publish)
  --schema COLUMNS     the readings' columns, NAME:TYPE comma-separated; TYPE is integer, number, boolean or
                       string (publish)
  --price KOS          price per hour, such as 2.5 (publish)
  --epoch-seconds N    length of an epoch, 1 to 86400; default 3600 (publish)
  --stake KOS          tokens staked on the listing; default the registry's minimum (publish)
${YES_USAGE}
${COMMON_FLAGS_USAGE}
`;

export const SUBSCRIBE_USAGE =
  `Usage: kosmos subscribe STREAM_ID --seconds N [--targets T1,T2] [--yes] [--json]
       kosmos subscribe --renew SUBSCRIPTION_ID --seconds N [--yes] [--json]

Buys the keys of the stream's epochs from now for N seconds (rounded out to whole epochs) as one sale:
readings arrive live while a key is held, history is fetched from replicas, and nothing after the span can
be decrypted. With --renew, buys the N seconds after the subscription's last epoch bought (from now when it
has ended) as another sale of it. Shows the span and price with the network fee and asks first.

Flags:
  --seconds N      how long, 1 to 31536000
  --renew ID       renew this subscription instead of starting one
  --targets LIST   where the readings also go, comma-separated: a directory, an http(s):// webhook,
                   mqtt://host:port/topic, postgres://user@host:port/db?table=name
${YES_USAGE}
${COMMON_FLAGS_USAGE}
`;

export const SUBSCRIPTIONS_USAGE = `Usage: kosmos subscriptions [ID] [--json]

Lists this node's subscriptions with their status and span, or shows one.

Flags:
${COMMON_FLAGS_USAGE}
`;

const SCHEMA_TYPES = ["integer", "number", "boolean", "string"];

/** Runs `kosmos streams`. */
export function runStreams(args: string[], io: CommandIo = {}): Promise<number> {
  return runCommand({ name: "streams", usage: STREAMS_USAGE, operands: [0, 0] }, args, io, async (cmd) => {
    const { streams } = await callApi<{ streams: StreamView[] }>(cmd, "/api/v1/streams", {
      what: "list streams",
    });
    output(
      cmd,
      { streams },
      () => streams.length === 0 ? ["No streams known yet."] : streams.flatMap((s) => describeStream(s)),
    );
  });
}

/** Runs `kosmos stream`. */
export function runStream(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = {
    name: "stream",
    usage: STREAM_USAGE,
    operands: [1, 2] as const,
    flags: ["title", "sensors", "schema", "price", "licence", "epoch-seconds", "description", "stake"],
    signs: true,
  };
  return runCommand(spec, args, io, async (cmd) => {
    const [sub, ...rest] = cmd.positionals;
    if (sub === "show") {
      if (rest.length !== 1) throw new UsageError("stream show: expected STREAM_ID");
      const stream = await callApi<StreamView>(cmd, `/api/v1/streams/${encodeURIComponent(rest[0])}`, {
        what: `find stream ${rest[0].slice(0, 80)}`,
      });
      output(cmd, stream, () => describeStream(stream, true));
      return;
    }
    if (sub !== "publish") {
      throw new UsageError(`stream: unknown subcommand "${sub.slice(0, 40)}"; use publish or show`);
    }
    if (rest.length !== 0) throw new UsageError("stream publish: takes no arguments besides its flags");
    await publish(cmd);
  });
}

/** `--schema temp:number,open:boolean` as columns; a {@link UsageError} naming the bad part. */
export function parseSchema(text: string): { name: string; type: string }[] {
  return text.split(",").map((part) => {
    const [name, type, ...extra] = part.trim().split(":");
    if (!name || !type || extra.length > 0 || !SCHEMA_TYPES.includes(type)) {
      throw new UsageError(
        `stream publish: --schema "${part.slice(0, 60)}" is not NAME:TYPE with TYPE one of ${
          SCHEMA_TYPES.join(", ")
        }`,
      );
    }
    return { name, type };
  });
}

async function publish(cmd: Command): Promise<void> {
  const missing = ["title", "sensors", "schema", "price", "licence"].filter((f) => !cmd.flags.get(f));
  if (missing.length > 0) {
    throw new UsageError(`stream publish: give ${missing.map((f) => `--${f}`).join(", ")}`);
  }
  const epoch = cmd.flags.get("epoch-seconds");
  if (epoch !== undefined && !/^\d{1,5}$/.test(epoch)) {
    throw new UsageError("stream publish: --epoch-seconds must be a whole number of seconds from 1 to 86400");
  }
  const body = {
    title: cmd.flags.get("title"),
    sensors: cmd.flags.get("sensors")!.split(",").map((s) => s.trim()).filter(Boolean),
    schema: parseSchema(cmd.flags.get("schema")!),
    pricePerHour: cmd.flags.get("price"),
    licence: cmd.flags.get("licence"),
    ...(epoch !== undefined && { epochSeconds: Number(epoch) }),
    ...(cmd.flags.has("description") && { description: cmd.flags.get("description") }),
    ...(cmd.flags.has("stake") && { stake: cmd.flags.get("stake") }),
  };
  const stream = await callSigned<StreamView>(cmd, "/api/v1/streams", {
    body,
    what: "publish the stream",
    describe:
      `Publish stream "${body.title}" of ${body.sensors.length} sensor(s) at ${body.pricePerHour} KOS per hour`,
  });
  output(cmd, stream, () => [
    `Published stream ${stream.id}${stream.listingId ? ` (listing ${stream.listingId})` : ""}`,
    ...describeStream(stream).slice(1),
  ]);
}

/** Runs `kosmos subscribe`. */
export function runSubscribe(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = {
    name: "subscribe",
    usage: SUBSCRIBE_USAGE,
    operands: [0, 1] as const,
    flags: ["seconds", "targets", "renew"],
    signs: true,
  };
  return runCommand(spec, args, io, async (cmd) => {
    const text = cmd.flags.get("seconds");
    if (!text || !/^\d{1,8}$/.test(text) || Number(text) < 1 || Number(text) > 31_536_000) {
      throw new UsageError("subscribe: give --seconds N, a whole number of seconds from 1 to 31536000");
    }
    const renewId = cmd.flags.get("renew");
    if (renewId !== undefined) {
      if (cmd.positionals.length > 0 || cmd.flags.has("targets")) {
        throw new UsageError("subscribe --renew: takes the subscription id and --seconds only");
      }
      await renew(cmd, renewId, Number(text));
      return;
    }
    if (cmd.positionals.length !== 1) throw new UsageError("subscribe: expected STREAM_ID (or --renew ID)");
    const streamId = cmd.positionals[0];
    const targets = cmd.flags.get("targets")?.split(",").map((t) => t.trim()).filter(Boolean);
    const body = { streamId, seconds: Number(text), ...(targets && targets.length > 0 && { targets }) };
    await confirmPreview<SubscriptionPreview>(cmd, "/api/v1/subscriptions", {
      body,
      what: "subscribe",
      describe: (p) =>
        `Subscribe to ${streamId.slice(0, 24)}…: epochs ${p.epochs?.first}–${p.epochs?.last} (${
          p.from === undefined ? "?" : formatTime(p.from)
        } to ${p.to === undefined ? "?" : formatTime(p.to)}) for ${
          p.price === undefined ? "?" : formatKos(p.price)
        }`,
    });
    const sub = await callApi<SubscriptionView>(cmd, "/api/v1/subscriptions", { body, what: "subscribe" });
    output(cmd, sub, () => describeSubscription(sub));
  });
}

/** `kosmos subscribe --renew ID --seconds N`: the span after the last epoch bought, previewed and confirmed. */
async function renew(cmd: Command, id: string, seconds: number): Promise<void> {
  if (!/^[0-9a-f-]{36}$/.test(id)) {
    throw new UsageError("subscribe --renew: expected a subscription id (kosmos subscriptions lists them)");
  }
  const path = `/api/v1/subscriptions/${id}/renew`;
  const body = { seconds };
  await confirmPreview<RenewalPreview>(cmd, path, {
    body,
    what: "renew the subscription",
    describe: (p) =>
      `Renew subscription ${id}: epochs ${p.epochs?.first}–${p.epochs?.last} (${
        p.from === undefined ? "?" : formatTime(p.from)
      } to ${p.to === undefined ? "?" : formatTime(p.to)}) for ${
        p.price === undefined ? "?" : formatKos(p.price)
      }`,
  });
  const sub = await callApi<SubscriptionView>(cmd, path, { body, what: "renew the subscription" });
  output(cmd, sub, () => [`Renewed until ${formatTime(sub.to)}`, ...describeSubscription(sub)]);
}

/** Runs `kosmos subscriptions`. */
export function runSubscriptions(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = { name: "subscriptions", usage: SUBSCRIPTIONS_USAGE, operands: [0, 1] as const };
  return runCommand(spec, args, io, async (cmd) => {
    const [id] = cmd.positionals;
    if (id !== undefined) {
      const sub = await callApi<SubscriptionView>(cmd, `/api/v1/subscriptions/${encodeURIComponent(id)}`, {
        what: `find subscription ${id.slice(0, 80)}`,
      });
      output(cmd, sub, () => describeSubscription(sub));
      return;
    }
    const { subscriptions } = await callApi<{ subscriptions: SubscriptionView[] }>(
      cmd,
      "/api/v1/subscriptions",
      {
        what: "list subscriptions",
      },
    );
    output(
      cmd,
      { subscriptions },
      () =>
        subscriptions.length === 0 ? ["No subscriptions yet."] : subscriptions.flatMap(describeSubscription),
    );
  });
}

function describeStream(s: StreamView, epochs = false): string[] {
  const lines = [
    `${s.id}  ${s.title}${s.mine ? " (published here)" : ""}`,
    `  ${formatKos(s.pricePerHour)} per hour, epochs of ${s.epochSeconds} s, licence ${s.licence}`,
    `  sensors: ${s.sensors.map((x) => x.sensorId).join(", ")}; columns: ${
      s.schema.map((c) => `${c.name}:${c.type}`).join(", ")
    }`,
    `  gateway ${s.gateway}, owner ${s.owner}${s.listingId ? `, listing ${s.listingId}` : ""}`,
  ];
  if (epochs) {
    for (const e of s.epochs.slice(0, 10)) {
      lines.push(
        `  epoch ${e.epoch}: ${formatTime(e.start)}–${formatTime(e.end)} ${
          e.contentCid
            ? `sealed, ${e.rows} readings, ${e.contentCid}${e.anchored ? " (anchored)" : ""}`
            : "open"
        }${e.keyHeld ? ", key held" : ""}`,
      );
    }
  }
  return lines;
}

function describeSubscription(s: SubscriptionView): string[] {
  return [
    `${s.id}  ${s.title}: ${s.status}${s.error ? ` (${s.error})` : ""}`,
    `  ${formatTime(s.from)} to ${formatTime(s.to)}, epochs ${s.epochs.first}–${s.epochs.last}, paid ${
      formatKos(s.paid)
    }`,
    `  ${s.received} readings received${s.lastReadingAt ? `, last at ${formatTime(s.lastReadingAt)}` : ""}`,
  ];
}
