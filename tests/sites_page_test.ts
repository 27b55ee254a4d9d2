/**
 * The Sites page's registration form over plain HTTP, as a browser without
 * JavaScript uses it: the form posts to `POST /api/v1/sites`, which redirects
 * back to `/sites` with the new site and its snippet, or with the reason it
 * was refused shown next to the field. A registered site is pending until
 * its domain publishes the proof the page shows; "Check now" finds it. Posts
 * from other sites are refused. Proofs are served by a local web server.
 */
import assert from "node:assert/strict";
import type { KosmosNode } from "../node/node.ts";
import { startNetwork } from "./nodes.ts";
import { registerVerifiedSite, startProofServer } from "./site_proofs.ts";
import { ownerFetch, waitFor } from "./helpers.ts";

function postForm(node: KosmosNode, domain: string, headers: Record<string, string> = {}) {
  return ownerFetch(node, `/api/v1/sites`, {
    method: "POST",
    body: new URLSearchParams({ domain }),
    headers: { Origin: node.url, "Sec-Fetch-Site": "same-origin", Accept: "text/html", ...headers },
    redirect: "manual",
  });
}

function unescapeHtml(text: string): string {
  return text.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&quot;", '"').replaceAll(
    "&amp;",
    "&",
  );
}

async function getPage(node: KosmosNode, location: string): Promise<string> {
  const res = await ownerFetch(node, location, { headers: { Accept: "text/html" } });
  assert.equal(res.status, 200);
  return await res.text();
}

Deno.test("the Sites form registers a site and shows it with its snippet, or shows why not next to the field", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(2, { siteProofOrigins: proofs.origins });
  await net.waitForMesh();
  const [a, b] = net.nodes;

  let html = await getPage(a, "/sites");
  assert.match(html, /<form[^>]*method="post"[^>]*action="\/api\/v1\/sites"/);
  assert.match(html, /<input[^>]*name="domain"[^>]*required/);
  assert.doesNotMatch(html, /data-testid="site-form-error"/);

  // A bad domain comes back with the message inline and the input kept.
  let res = await postForm(a, "not a domain!");
  assert.equal(res.status, 303);
  let location = res.headers.get("location")!;
  assert.match(location, /^\/sites\?error=invalid&domain=not\+a\+domain%21$/);
  html = await getPage(a, location);
  assert.match(html, /data-testid="site-form-error"[^>]*>&quot;not a domain!&quot; is not a domain name\./);
  assert.match(
    html,
    /<input[^>]*value="not a domain!"[^>]*aria-invalid="true"[^>]*aria-describedby="site-form-error"/,
  );
  assert.deepEqual(await a.facade.listSites(), []);

  // A pasted URL registers its host name; the page shows the snippet and lists the site.
  res = await postForm(a, "  https://Shop.Example/pricing?x=1 ");
  assert.equal(res.status, 303);
  location = res.headers.get("location")!;
  assert.equal(location, "/sites?registered=shop.example");
  html = await getPage(a, location);
  assert.match(html, /data-testid="site-registered"/);
  const code = html.match(/class="snippet-code"><code>(&lt;script.*?)<\/code>/)?.[1] ?? "";
  assert.equal(
    unescapeHtml(code),
    `<script defer data-domain="shop.example" data-api="${a.url}" src="${a.url}/js/kosmos.js"></script>`,
  );
  assert.match(html, /<tr[^>]*data-domain="shop\.example"/);
  assert.match(html, /href="\/sites\/shop\.example"[^>]*data-testid="snippet-link"/);
  assert.deepEqual((await a.facade.listSites()).map((s) => s.domain), ["shop.example"]);

  // Until shop.example publishes the proof, the site is pending and the page shows what to publish and where.
  const [pending] = await a.facade.listSites();
  assert.equal(pending.status, "pending");
  assert.match(html, /<div[^>]*data-domain="shop\.example"[^>]*data-status="pending"/);
  const shownProof = html.match(/data-testid="site-proof">(.*?)<\/code>/)?.[1] ?? "";
  assert.equal(unescapeHtml(shownProof), pending.proof, "the page shows the exact proof");
  assert.deepEqual(Object.keys(JSON.parse(pending.proof)), [
    "v",
    "domain",
    "owner",
    "peerId",
    "encryptionKey",
    "timestamp",
    "signature",
  ]);
  assert.match(
    html,
    new RegExp(`data-testid="site-proof-url">${proofs.url}/shop\\.example/\\.well-known/kosmos-site\\.json<`),
  );
  assert.match(html, /data-testid="site-proof-error"[^>]*>.*answered 404/);
  assert.equal(b.components.sites.getSite("shop.example"), undefined, "B accepted an unproven site");
  // "Check now" after publishing it.
  proofs.publish("shop.example", pending.proof);
  res = await ownerFetch(a, "/api/v1/sites/shop.example/check", {
    method: "POST",
    body: new URLSearchParams(),
    headers: { Origin: a.url, "Sec-Fetch-Site": "same-origin", Accept: "text/html" },
    redirect: "manual",
  });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/sites?checked=shop.example");
  html = await getPage(a, res.headers.get("location")!);
  assert.match(html, /data-testid="site-checked"/);
  assert.match(html, /<div[^>]*data-domain="shop\.example"[^>]*data-status="verified"/);
  await waitFor(
    "B to accept A's verified site",
    () => b.components.sites.getSite("shop.example")?.peerId === a.peerId,
  );

  // A domain another node holds can be registered, but stays pending while the domain names that node.
  await registerVerifiedSite(b, proofs, "taken.example");
  await waitFor("A to learn B's site", () => a.components.sites.getSite("taken.example"));
  res = await postForm(a, "taken.example");
  assert.equal(res.status, 303);
  html = await getPage(a, res.headers.get("location")!);
  assert.match(html, /<div[^>]*data-domain="taken\.example"[^>]*data-status="pending"/);
  assert.match(html, /data-testid="site-held-by"/);
  assert.match(html, /names another node/);
  assert.equal(a.components.sites.getSite("taken.example")?.peerId, b.peerId, "B keeps it");

  // An empty field says what to type.
  res = await postForm(a, "   ");
  html = await getPage(a, res.headers.get("location")!);
  assert.match(html, /Enter a domain name\./);

  // A form on another site cannot register sites here.
  for (const headers of [{ "Sec-Fetch-Site": "cross-site" }, { Origin: "http://evil.example" }]) {
    const init = headers.Origin ? { Origin: headers.Origin, "Sec-Fetch-Site": "" } : headers;
    const forged = await ownerFetch(a, `/api/v1/sites`, {
      method: "POST",
      body: new URLSearchParams({ domain: "csrf.example" }),
      headers: Object.fromEntries(Object.entries(init).filter(([, v]) => v !== "")),
      redirect: "manual",
    });
    assert.equal(forged.status, 403);
    assert.equal((await forged.json()).error.code, "forbidden");
  }
  assert.equal(a.components.sites.getSite("csrf.example"), undefined);

  // The JSON API is unchanged.
  res = await ownerFetch(a, `/api/v1/sites`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ domain: "https://api.example/" }),
  });
  assert.equal(res.status, 422);
  await res.body?.cancel();
});
