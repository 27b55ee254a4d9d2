import assert from "node:assert/strict";
import { multiaddr } from "@multiformats/multiaddr";
import { peerIdFromString } from "@libp2p/peer-id";
import {
  checkAnnounceAddress,
  createDhtAddressFilter,
  describeReachability,
  normalizePublicUrl,
} from "./addresses.ts";

const peer = peerIdFromString("12D3KooWRuKnY5WuGW2tQDEpuNPELxxg16HRnhqY7R8JfY8bwqGH");
const relay = "12D3KooWKTV48x3sbMAFqs7neQvuGtXf46SbFNghGFRzMKb3GLsb";
const addrs = [
  "/ip4/127.0.0.1/tcp/4001",
  "/ip4/192.168.1.7/tcp/4001",
  "/ip6/fe80::1/tcp/4001",
  "/ip4/8.8.4.4/tcp/4001",
  `/ip6/3fff::10/tcp/4001/p2p/${relay}/p2p-circuit`,
].map((a) => multiaddr(a));

function filtered(own: string[]): string[] {
  const filter = createDhtAddressFilter(() => own.map((a) => multiaddr(a)));
  return filter({ id: peer, multiaddrs: addrs }).multiaddrs.map((ma) => ma.toString());
}

Deno.test("createDhtAddressFilter() keeps public and relay addresses for a node on a public host only", () => {
  assert.deepEqual(filtered(["/ip4/8.8.8.8/tcp/4001"]), [
    "/ip4/8.8.4.4/tcp/4001",
    `/ip6/3fff::10/tcp/4001/p2p/${relay}/p2p-circuit`,
  ]);
});

Deno.test("createDhtAddressFilter() keeps loopback addresses on a loopback node and LAN ones on a LAN node", () => {
  assert.deepEqual(filtered(["/ip4/127.0.0.1/tcp/1"]), [
    "/ip4/127.0.0.1/tcp/4001",
    "/ip4/8.8.4.4/tcp/4001",
    `/ip6/3fff::10/tcp/4001/p2p/${relay}/p2p-circuit`,
  ]);
  assert.deepEqual(filtered(["/ip4/10.0.0.2/tcp/1"]), [
    "/ip4/192.168.1.7/tcp/4001",
    "/ip4/8.8.4.4/tcp/4001",
    `/ip6/3fff::10/tcp/4001/p2p/${relay}/p2p-circuit`,
  ]);
});

const meta = (addr: string, verified: boolean, type = "transport", expires = 0) => ({
  multiaddr: multiaddr(addr),
  verified,
  type,
  expires,
});

Deno.test("describeReachability() is public with a confirmed public address, else private or unknown", () => {
  const now = 1_000;
  assert.deepEqual(describeReachability([meta("/ip4/8.8.4.4/tcp/1", true)], { now }), {
    reachability: "public",
    publicAddresses: ["/ip4/8.8.4.4/tcp/1"],
    relayAddresses: [],
  });
  // Only LAN addresses and a relay slot: reached through the relay.
  const circuit = `/ip6/3fff::10/tcp/4001/p2p/${relay}/p2p-circuit`;
  assert.deepEqual(
    describeReachability([meta("/ip4/192.168.1.7/tcp/1", true), meta(circuit, true)], { now }),
    { reachability: "private", publicAddresses: [], relayAddresses: [circuit] },
  );
  // A public listen address nobody confirmed yet.
  assert.equal(describeReachability([meta("/ip4/8.8.4.4/tcp/1", false)], { now }).reachability, "unknown");
  // An observed address whose check ran out says nothing: private.
  assert.equal(
    describeReachability([meta("/ip4/8.8.4.4/tcp/1", false, "observed", now - 1)], { now }).reachability,
    "private",
  );
});

Deno.test("checkAnnounceAddress() refuses wildcards, peer ids and non-IP addresses", () => {
  checkAnnounceAddress("/ip4/203.0.113.7/tcp/4001");
  checkAnnounceAddress("/dns4/kosmos.example.org/tcp/443/wss");
  assert.throws(() => checkAnnounceAddress("/ip4/0.0.0.0/tcp/4001"), /wildcard/);
  assert.throws(() => checkAnnounceAddress(`/ip4/203.0.113.7/tcp/4001/p2p/${relay}`), /must not name a peer/);
  assert.throws(() => checkAnnounceAddress("/memory/x"), /must start with/);
  assert.throws(() => checkAnnounceAddress("not a multiaddr"), /not a valid multiaddr/);
});

Deno.test("normalizePublicUrl() keeps origin and path without a trailing slash and refuses the rest", () => {
  assert.equal(normalizePublicUrl("https://Kosmos.Example.org/"), "https://kosmos.example.org");
  assert.equal(normalizePublicUrl("http://node.example:8080/kosmos/"), "http://node.example:8080/kosmos");
  assert.throws(() => normalizePublicUrl("ftp://node.example"), /http:\/\/ or https:\/\//);
  assert.throws(() => normalizePublicUrl("https://user:pw@node.example"), /credentials/);
  assert.throws(() => normalizePublicUrl("https://node.example/?a=1"), /query/);
  assert.throws(() => normalizePublicUrl("node.example"), /not a valid URL/);
});
