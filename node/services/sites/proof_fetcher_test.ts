import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { signSiteProof } from "../../../protocol/sites.ts";
import { isLoopbackHost, parseProofOrigins, ProofFetcher } from "./proof_fetcher.ts";

async function proofFor(domain: string): Promise<string> {
  const key = await generateKeyPair("Ed25519");
  return JSON.stringify(
    await signSiteProof(key, {
      v: 1,
      domain,
      owner: "0x1111111111111111111111111111111111111111" as never,
      peerId: peerIdFromPrivateKey(key).toString(),
      encryptionKey: `0x${"ab".repeat(32)}`,
      timestamp: 1_700_000_000_000,
    }),
  );
}

/** A local web server; `handle` answers per domain (the first path segment), counting requests. */
function serve(handle: (domain: string, url: URL) => Response | Promise<Response>) {
  const counts = new Map<string, number>();
  let running = 0;
  let maxRunning = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const url = new URL(request.url);
    const domain = url.pathname.split("/")[1];
    counts.set(domain, (counts.get(domain) ?? 0) + 1);
    running++;
    maxRunning = Math.max(maxRunning, running);
    try {
      return await handle(domain, url);
    } finally {
      running--;
    }
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  return {
    url,
    origins: parseProofOrigins([`*=${url}`]),
    count: (domain: string) => counts.get(domain) ?? 0,
    get maxRunning() {
      return maxRunning;
    },
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("ProofFetcher.get() verifies the proof, caches it for ttl and failures for failureTtl", async () => {
  const good = await proofFor("good.example");
  await using server = serve((domain) =>
    domain === "good.example" ? new Response(good) : new Response("nope", { status: 404 })
  );
  let now = 1_700_000_000_000;
  const proofs = new ProofFetcher({
    origins: server.origins,
    ttl: 10_000,
    failureTtl: 1_000,
    now: () => now,
  });
  const ok = await proofs.get("good.example");
  assert.ok(ok.ok);
  assert.equal(ok.proof.domain, "good.example");
  assert.equal(ok.url, `${server.url}/good.example/.well-known/kosmos-site.json`);
  await proofs.get("good.example");
  assert.equal(server.count("good.example"), 1, "a fresh proof is served from the cache");
  await proofs.get("good.example", { fresh: true });
  assert.equal(server.count("good.example"), 2, "check now asks again");

  const missing = await proofs.get("missing.example");
  assert.ok(!missing.ok && /answered 404/.test(missing.reason));
  await Promise.all(Array.from({ length: 20 }, () => proofs.get("missing.example")));
  assert.equal(server.count("missing.example"), 1, "a failure is remembered: the domain is not hammered");
  now += 1_001;
  await proofs.get("missing.example");
  assert.equal(server.count("missing.example"), 2);
  now += 10_001;
  await proofs.get("good.example");
  assert.equal(server.count("good.example"), 3, "an old proof is fetched again");
});

Deno.test("ProofFetcher refuses proofs of another domain, bad JSON, redirects to other hosts, large and slow answers", async () => {
  const otherDomain = await proofFor("other.example");
  const same = await proofFor("redirected.example");
  await using server = serve(async (domain, url) => {
    switch (domain) {
      case "wrong.example":
        return new Response(otherDomain);
      case "json.example":
        return new Response("{ not json");
      case "forged.example":
        return new Response(
          JSON.stringify({ ...JSON.parse(await proofFor("forged.example")), timestamp: 1 }),
        );
      case "away.example":
        return Response.redirect("http://127.0.0.2:9/x", 302);
      case "redirected.example":
        return url.searchParams.has("moved")
          ? new Response(same)
          : new Response(null, { status: 302, headers: { Location: `${url.pathname}?moved=1` } });
      case "large.example":
        return new Response("x".repeat(10_000));
      case "slow.example":
        await new Promise((r) => setTimeout(r, 500));
        return new Response("{}");
      default:
        return new Response("", { status: 404 });
    }
  });
  const proofs = new ProofFetcher({ origins: server.origins, timeout: 200 });
  const reason = async (domain: string) => {
    const result = await proofs.get(domain);
    assert.ok(!result.ok, `${domain} was accepted`);
    return result.reason;
  };
  assert.match(await reason("wrong.example"), /for "other\.example", not "wrong\.example"/);
  assert.match(await reason("json.example"), /not JSON/);
  assert.match(await reason("forged.example"), /not signed by the node it names/);
  assert.match(await reason("away.example"), /redirects to another host \(127\.0\.0\.2:9\)/);
  assert.match(await reason("large.example"), /larger than 4096 bytes/);
  assert.match(await reason("slow.example"), /did not answer in time/);
  assert.ok((await proofs.get("redirected.example")).ok, "a redirect on the same host is followed");
});

Deno.test("ProofFetcher runs at most `concurrency` fetches at once and fetches a domain once for many callers", async () => {
  await using server = serve(async () => {
    await new Promise((r) => setTimeout(r, 50));
    return new Response("", { status: 404 });
  });
  const proofs = new ProofFetcher({ origins: server.origins, concurrency: 2 });
  await Promise.all(
    Array.from({ length: 8 }, (_, i) => [proofs.get(`d${i}.example`), proofs.get(`d${i}.example`)]).flat(),
  );
  assert.ok(server.maxRunning <= 2, `${server.maxRunning} fetches ran at once`);
  for (let i = 0; i < 8; i++) assert.equal(server.count(`d${i}.example`), 1);
});

Deno.test("parseProofOrigins() takes loopback URLs only; without it proofs are fetched over https", () => {
  assert.deepEqual(
    [...parseProofOrigins(["*=http://127.0.0.1:8080/", "shop.example=http://localhost:9/sites"])],
    [["*", "http://127.0.0.1:8080"], ["shop.example", "http://localhost:9/sites"]],
  );
  for (
    const bad of [
      "*=http://203.0.113.5",
      "*=http://example.com",
      "*=ftp://127.0.0.1",
      "=http://127.0.0.1",
      "http://127.0.0.1",
      "*=http://127.0.0.1/?q=1",
      "*=http://user@127.0.0.1",
    ]
  ) {
    assert.throws(() => parseProofOrigins([bad]), TypeError, bad);
  }
  assert.ok(isLoopbackHost("127.8.9.10") && isLoopbackHost("[::1]") && isLoopbackHost("a.localhost"));
  assert.ok(!isLoopbackHost("127.0.0.1.example.com") && !isLoopbackHost("10.0.0.1"));
  const proofs = new ProofFetcher();
  assert.equal(proofs.urlOf("example.com"), "https://example.com/.well-known/kosmos-site.json");
  assert.equal(proofs.urlOf("dev.localhost"), "http://dev.localhost/.well-known/kosmos-site.json");
});
