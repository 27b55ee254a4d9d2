/**
 * The browser extension's routes against a real node on its embedded chain, through `app.request()`:
 * the owner mints a pairing code (201), the extension trades it for its token (201; the code works
 * once: 401 after), asks its status (consent false), sends visits: 409 `consent_required` and
 * nothing stored; after a real browsing consent on chain 201 and a `browsing` source with exactly
 * those rows. Every other status: 400/415/422 bodies, 401 without or with a wrong token (the
 * owner's token included), 404 and 204 on token revocation, 405, and CORS for extension origins only.
 */
import assert from "node:assert/strict";
import { createApp } from "../web/app.ts";
import { startAppNode } from "./node_app.ts";

const quietLog = { error: () => {}, debug: () => {} };
const EXTENSION_ORIGIN = "chrome-extension://abcdefghijklmnopabcdefghijklmnop";

Deno.test("extension routes: pairing, status, visits refused without consent and stored with it, revocation", async () => {
  await using started = await startAppNode("kosmos-extension-api-");
  const { node, app } = started;
  const open = createApp(node.facade, { log: quietLog, auth: node.auth }); // no owner token
  const json = async (response: Response | Promise<Response>) => {
    const r = await response;
    return { status: r.status, body: r.status === 204 ? null : await r.json(), headers: r.headers };
  };
  const asExtension = (token: string, init: RequestInit = {}) => ({
    ...init,
    headers: { ...init.headers as Record<string, string>, authorization: `Bearer ${token}` },
  });
  const postVisits = (token: string, body: unknown, type = "application/json") =>
    json(open.request(
      "/api/v1/extension/visits",
      asExtension(token, {
        method: "POST",
        headers: { "content-type": type },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    ));
  const pair = (code: unknown) =>
    json(open.request("/api/v1/extension/pair", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ code }),
    }));

  // Only the owner mints codes.
  assert.equal((await json(open.request("/api/v1/extension/pairings", { method: "POST" }))).status, 401);
  const minted = await json(app.request("/api/v1/extension/pairings", { method: "POST" }));
  assert.equal(minted.status, 201);
  assert.match(minted.body.code, /^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/);
  assert.ok(
    minted.body.expiresAt > Date.now() + 9 * 60_000 && minted.body.expiresAt <= Date.now() + 10 * 60_000,
  );
  assert.equal((await json(app.request("/api/v1/extension/pairings", { method: "GET" }))).status, 405);

  // Bad bodies change nothing.
  assert.equal((await pair(12345678)).status, 422);
  assert.equal((await pair("x".repeat(40))).status, 422);
  const noJson = await json(open.request("/api/v1/extension/pair", { method: "POST", body: "code" }));
  assert.equal(noJson.status, 415);

  // Typed in lower case without the dash: still the code; it works once.
  const paired = await pair(minted.body.code.replace("-", "").toLowerCase());
  assert.equal(paired.status, 201, JSON.stringify(paired.body));
  const token: string = paired.body.token;
  assert.match(token, /^kx_[\w-]{43}$/);
  const again = await pair(minted.body.code);
  assert.equal(again.status, 401);
  assert.equal(again.body.error.code, "unauthorized");

  // The status needs the extension token, and no other credential.
  const status = await json(open.request("/api/v1/extension/status", asExtension(token)));
  assert.equal(status.status, 200);
  assert.deepEqual(status.body, { paired: true, consent: false });
  assert.equal((await json(open.request("/api/v1/extension/status"))).status, 401);
  assert.equal(
    (await json(app.request("/api/v1/extension/status"))).status,
    401,
    "the owner's token is not one",
  );
  assert.equal(
    (await json(
      open.request(
        "/api/v1/extension/status",
        asExtension(`${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`),
      ),
    )).status,
    401,
  );

  // Visits before consent: 409 consent_required, nothing stored.
  const now = Date.now();
  const visits = [
    { domain: "example.org", visitedAt: now - 3_600_000 },
    { domain: "news.example.com", visitedAt: now - 60_000 },
  ];
  const refused = await postVisits(token, visits);
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, "consent_required");
  assert.equal(node.components.sources.list().length, 0);

  // Bad visit bodies: the same whatever the consent.
  const bad: [unknown, number, RegExp, string?][] = [
    ["[", 400, /JSON/],
    [visits, 415, /JSON/, "text/plain"],
    [{ domain: "a.org" }, 422, /JSON array of visits/],
    [[], 422, /at least one visit/],
    [[{ domain: "https://a.org/x", visitedAt: now }], 422, /Visit 1: domain .* not a host name/],
    [[visits[0], { domain: "a.org", visitedAt: now, title: "t" }], 422, /Visit 2: unknown field "title"/],
    [Array.from({ length: 5001 }, () => visits[0]), 422, /at most 5000/],
  ];
  for (const [body, code, message, type] of bad) {
    const answer = await postVisits(token, body, type);
    assert.equal(answer.status, code, JSON.stringify(body).slice(0, 80));
    assert.match(answer.body.error.message, message);
  }
  assert.equal((await postVisits("kx_" + "A".repeat(43), visits)).status, 401);
  assert.equal(
    (await json(app.request("/api/v1/extension/visits", { method: "POST", body: "[]" }))).status,
    401,
  );

  // A browsing consent on chain (any purpose): the visits are stored as a browsing source.
  const consent = await json(app.request("/api/v1/consents", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ kind: "browsing", purpose: "web habits research", expiresAt: now + 86_400_000 }),
  }));
  assert.equal(consent.status, 201, JSON.stringify(consent.body));
  assert.deepEqual((await json(open.request("/api/v1/extension/status", asExtension(token)))).body, {
    paired: true,
    consent: true,
  });
  const stored = await postVisits(token, visits);
  assert.equal(stored.status, 201, JSON.stringify(stored.body));
  assert.equal(stored.body.rows, 2);
  const sources = await json(app.request("/api/v1/sources"));
  const source = sources.body.sources.find((s: { id: string }) => s.id === stored.body.sourceId);
  assert.equal(source.kind, "browsing");
  assert.equal(source.filename, "extension");
  assert.deepEqual(
    [...node.components.sources.rows(stored.body.sourceId)],
    visits.map((v) => ({ visitedAt: v.visitedAt, domain: v.domain })),
  );
  // A later send joins the same browsing source: My data keeps one browsing log, not one per send.
  const later = [{ domain: "later.example", visitedAt: visits[1].visitedAt + 60_000 }];
  const joined = await postVisits(token, later);
  assert.equal(joined.status, 201, JSON.stringify(joined.body));
  assert.equal(joined.body.sourceId, stored.body.sourceId);
  assert.equal(joined.body.rows, 3);
  assert.equal(node.components.sources.list().filter((s) => s.kind === "browsing").length, 1);
  assert.deepEqual(
    [...node.components.sources.rows(stored.body.sourceId)].map((r) => r.domain),
    [...visits.map((v) => v.domain), "later.example"],
  );

  // CORS: extension origins only, on the extension's routes only.
  const preflight = await open.request("/api/v1/extension/visits", {
    method: "OPTIONS",
    headers: { origin: EXTENSION_ORIGIN, "access-control-request-method": "POST" },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), EXTENSION_ORIGIN);
  const foreign = await open.request("/api/v1/extension/visits", {
    method: "OPTIONS",
    headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
  });
  assert.equal(foreign.status, 403);
  assert.equal(foreign.headers.get("access-control-allow-origin"), null);
  await foreign.body?.cancel();
  const withOrigin = await open.request(
    "/api/v1/extension/status",
    asExtension(token, {
      headers: { origin: EXTENSION_ORIGIN },
    }),
  );
  assert.equal(withOrigin.headers.get("access-control-allow-origin"), EXTENSION_ORIGIN);
  await withOrigin.body?.cancel();

  // The owner lists and revokes; the revoked token stops working at once.
  const listed = await json(app.request("/api/v1/extension/tokens"));
  assert.equal(listed.status, 200);
  assert.equal(listed.body.tokens.length, 1);
  const [{ id, createdAt, lastUsedAt }] = listed.body.tokens;
  assert.ok(createdAt <= lastUsedAt);
  assert.ok(!JSON.stringify(listed.body).includes(token.slice(3)), "the token itself is never listed");
  assert.equal((await json(open.request("/api/v1/extension/tokens"))).status, 401);
  assert.equal(
    (await json(open.request(`/api/v1/extension/tokens/${id}`, asExtension(token, { method: "DELETE" }))))
      .status,
    401,
  );
  assert.equal(
    (await json(app.request(`/api/v1/extension/tokens/${"0".repeat(32)}`, { method: "DELETE" }))).status,
    404,
  );
  assert.equal((await json(app.request("/api/v1/extension/tokens/nope", { method: "DELETE" }))).status, 404);
  assert.equal((await json(app.request(`/api/v1/extension/tokens/${id}`, { method: "DELETE" }))).status, 204);
  assert.equal((await json(open.request("/api/v1/extension/status", asExtension(token)))).status, 401);
  assert.equal((await postVisits(token, visits)).status, 401);
  assert.deepEqual((await json(app.request("/api/v1/extension/tokens"))).body, { tokens: [] });
});
