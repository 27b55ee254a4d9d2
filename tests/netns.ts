/**
 * A small internet in Linux network namespaces, for tests of nodes behind NAT.
 * Every address is assigned here, inside namespaces this file creates: the
 * "internet" is 3fff:0:0:1::/64 (the IPv6 documentation prefix of RFC 9637,
 * which libp2p counts as public, so AutoNAT, DCUtR and the DHT treat it as the
 * internet), the home LAN fd00:0:0:2::/64 behind a masquerading router. The
 * only link to the test process is one veth pair into the internet bridge, so
 * nothing is ever routed off the machine.
 *
 * ```
 *   test (root ns) 3fff:0:0:1::100 ─┐
 *   kz-relay       3fff:0:0:1::10  ─┤ bridge in kz-net (the internet)
 *   kz-buyer       3fff:0:0:1::20  ─┤
 *   kz-router wan  3fff:0:0:1::1   ─┘  masquerade; forwards wan → lan only for established flows
 *   kz-router lan  fd00:0:0:2::1  ── kz-home fd00:0:0:2::2 (default route via the router)
 * ```
 *
 * ```ts
 * const why = await netnsUnavailable();
 * if (why) console.log(`skipped: ${why}`);
 * await using net = await createNatLab();
 * net.exec("kz-home", ["deno", "run", …]);
 * ```
 */

export const INTERNET = {
  test: "3fff:0:0:1::100",
  relay: "3fff:0:0:1::10",
  buyer: "3fff:0:0:1::20",
  routerWan: "3fff:0:0:1::1",
} as const;
export const HOME_LAN = { router: "fd00:0:0:2::1", home: "fd00:0:0:2::2" } as const;
/** The HTTP port the test reaches the home node's API on through the router (libp2p ports stay closed). */
export const HOME_API_PORT = 7464;

const NAMESPACES = ["kz-net", "kz-relay", "kz-buyer", "kz-router", "kz-home"] as const;
export type Namespace = (typeof NAMESPACES)[number];

/** Why namespaces cannot be used here (not root, no `ip`, no `nft`), or undefined when they can. */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "network namespaces need Linux";
  if (Deno.uid?.() !== 0) return "network namespaces need root";
  for (const tool of ["ip", "nft"]) {
    const found = await run(["sh", "-c", `command -v ${tool}`]).then((r) => r.ok, () => false);
    if (!found) {
      return tool === "nft"
        ? "the router's NAT needs nftables (`apt-get install -y nftables`)"
        : "no `ip` command (iproute2)";
    }
  }
  const probe = `kz-probe-${Deno.pid}`;
  const made = await run(["ip", "netns", "add", probe]);
  if (!made.ok) return `cannot create a network namespace: ${made.stderr.trim()}`;
  // nftables needs the kernel's nf_tables, which a container may not offer.
  const nft = await run(inNs(probe, ["nft", "add", "table", "ip6", "kz_probe"]));
  await run(["ip", "netns", "del", probe]);
  return nft.ok ? undefined : `nftables does not work here: ${nft.stderr.trim()}`;
}

export interface NatLab extends AsyncDisposable {
  /** Spawns `cmd` inside `ns`. */
  spawn(ns: Namespace, cmd: string[], options?: Deno.CommandOptions): Deno.ChildProcess;
  /** Runs `cmd` inside `ns` and resolves with its output. */
  exec(ns: Namespace, cmd: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }>;
  /** Removes every namespace and the test's veth; safe to call twice. */
  destroy(): Promise<void>;
}

interface Output {
  ok: boolean;
  stdout: string;
  stderr: string;
}

async function run(cmd: string[]): Promise<Output> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  return { ok: out.success, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function must(cmd: string[]): Promise<string> {
  const out = await run(cmd);
  if (!out.ok) throw new Error(`${cmd.join(" ")} failed: ${out.stderr.trim()}`);
  return out.stdout;
}

const inNs = (ns: string, cmd: string[]) => ["ip", "netns", "exec", ns, ...cmd];

/** The router's rules: masquerade what leaves by wan; let in from wan only replies (and the test's API calls). */
const ROUTER_RULES = `
table ip6 kz_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade
  }
}
table ip6 kz_filter {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" oifname "wan" accept
    iifname "wan" ip6 saddr ${INTERNET.test} ip6 daddr ${HOME_LAN.home} tcp dport ${HOME_API_PORT} accept
    icmpv6 type { echo-request, nd-neighbor-solicit, nd-neighbor-advert, packet-too-big } accept
  }
}
`;

/** Creates the namespaces, links, addresses, routes and the router's NAT. */
export async function createNatLab(): Promise<NatLab> {
  const destroy = async () => {
    await run(["ip", "link", "del", "kz-t0"]);
    await run(["ip", "-6", "route", "del", "fd00:0:0:2::/64"]);
    for (const ns of NAMESPACES) await run(["ip", "netns", "del", ns]);
  };
  await destroy(); // a run killed halfway may have left some behind
  try {
    for (const ns of NAMESPACES) await must(["ip", "netns", "add", ns]);
    for (const ns of NAMESPACES) {
      await must(inNs(ns, ["ip", "link", "set", "lo", "up"]));
      // No duplicate address detection: addresses are usable at once.
      await must(
        inNs(ns, ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"]),
      );
    }
    await must(inNs("kz-net", ["ip", "link", "add", "br0", "type", "bridge"]));
    await must(inNs("kz-net", ["ip", "link", "set", "br0", "up"]));
    // One veth per host on the internet; its far end joins the bridge.
    const hosts: [Namespace | "root", string, string][] = [
      ["root", "kz-t0", INTERNET.test],
      ["kz-relay", "eth0", INTERNET.relay],
      ["kz-buyer", "eth0", INTERNET.buyer],
      ["kz-router", "wan", INTERNET.routerWan],
    ];
    for (const [i, [ns, name, addr]] of hosts.entries()) {
      const port = `kzp${i}`;
      const temp = `kzh${i}`;
      await must(["ip", "link", "add", temp, "type", "veth", "peer", "name", port]);
      await must(["ip", "link", "set", port, "netns", "kz-net"]);
      await must(inNs("kz-net", ["ip", "link", "set", port, "master", "br0", "up"]));
      if (ns === "root") {
        await must(["ip", "link", "set", temp, "name", name]);
        await must(["sysctl", "-qw", `net.ipv6.conf.${name}.accept_dad=0`]);
        await must(["ip", "-6", "addr", "add", `${addr}/64`, "dev", name, "nodad"]);
        await must(["ip", "link", "set", name, "up"]);
      } else {
        await must(["ip", "link", "set", temp, "netns", ns]);
        await must(inNs(ns, ["ip", "link", "set", temp, "name", name]));
        await must(inNs(ns, ["ip", "-6", "addr", "add", `${addr}/64`, "dev", name, "nodad"]));
        await must(inNs(ns, ["ip", "link", "set", name, "up"]));
      }
    }
    // The home LAN behind the router.
    await must(["ip", "link", "add", "kzlan0", "type", "veth", "peer", "name", "kzlan1"]);
    await must(["ip", "link", "set", "kzlan0", "netns", "kz-router"]);
    await must(["ip", "link", "set", "kzlan1", "netns", "kz-home"]);
    await must(inNs("kz-router", ["ip", "link", "set", "kzlan0", "name", "lan"]));
    await must(
      inNs("kz-router", ["ip", "-6", "addr", "add", `${HOME_LAN.router}/64`, "dev", "lan", "nodad"]),
    );
    await must(inNs("kz-router", ["ip", "link", "set", "lan", "up"]));
    await must(inNs("kz-home", ["ip", "link", "set", "kzlan1", "name", "eth0"]));
    await must(inNs("kz-home", ["ip", "-6", "addr", "add", `${HOME_LAN.home}/64`, "dev", "eth0", "nodad"]));
    await must(inNs("kz-home", ["ip", "link", "set", "eth0", "up"]));
    await must(inNs("kz-home", ["ip", "-6", "route", "add", "default", "via", HOME_LAN.router]));
    await must(inNs("kz-router", ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]));
    const rules = await Deno.makeTempFile({ prefix: "kz-nft-", suffix: ".nft" });
    try {
      await Deno.writeTextFile(rules, ROUTER_RULES);
      await must(inNs("kz-router", ["nft", "-f", rules]));
    } finally {
      await Deno.remove(rules).catch(() => {});
    }
    // The test reaches the home node's API (and only that port) through the router.
    await must(["ip", "-6", "route", "add", "fd00:0:0:2::/64", "via", INTERNET.routerWan, "dev", "kz-t0"]);
  } catch (err) {
    await destroy();
    throw err;
  }
  let destroyed: Promise<void> | undefined;
  const once = () => destroyed ??= destroy();
  return {
    spawn: (ns, cmd, options = {}) =>
      new Deno.Command("ip", { ...options, args: ["netns", "exec", ns, ...cmd] }).spawn(),
    exec: (ns, cmd) => run(inNs(ns, cmd)),
    destroy: once,
    [Symbol.asyncDispose]: once,
  };
}
