/**
 * The owner's credentials on the HTTP API (`web/auth.ts`): every route the
 * app registers, but the listed public ones, refuses a request without the
 * owner's bearer token or session cookie before it reaches the node; login
 * links work once and expire; the cookie cannot be read by scripts or sent
 * by other sites; and every response carries its safety headers.
 */
import assert from "node:assert/strict";
import { createApp } from "./app.ts";
import { createApiAuth, isPublicPath, PUBLIC_ROUTES, UNAUTHORIZED_MESSAGE } from "./auth.ts";
import type { KosmosApi as KosmosFacade } from "../protocol/api/mod.ts";
import { ensureClientBuild } from "./build.ts";
import { API_TOKEN_FILE, loadApiToken, readClientToken } from "../node/api_token.ts";

await ensureClientBuild();

const token = "a1".repeat(32);
const otherToken = "b2".repeat(32);
const quietLog = { error: () => {}, debug: () => {} };

/**
 * A facade that records every call; an unauthenticated request must make none.
 * The analytics event endpoint (public) gets an answer.
 */
function recordingFacade(calls: string[], answers: Partial<KosmosFacade> = {}): KosmosFacade {
  return new Proxy({} as KosmosFacade, {
    get: (_target, name) => (...args: unknown[]) => {
      // Every request first asks whether its path is a site's first-party tracker path (public, in memory).
      if (name === "resolveSitePath") return Promise.resolve(undefined);
      calls.push(String(name));
      const answer = answers[name as keyof KosmosFacade] as ((...a: unknown[]) => unknown) | undefined;
      if (answer) return answer(...args);
      if (name === "recordEvent") return Promise.resolve({ dropped: "unknown_site" });
      if (name === "isArbiter") return Promise.resolve(false);
      void args;
      return Promise.reject(Object.assign(new Error("not in this test"), { name: "NotFoundError" }));
    },
  });
}

function makeApp(options: { now?: () => number } = {}) {
  const calls: string[] = [];
  const auth = createApiAuth(token, { now: options.now });
  const app = createApp(recordingFacade(calls), { log: quietLog, auth });
  return { app, auth, calls };
}

/** A concrete path for a registered route pattern (`/purchases/:id` → `/purchases/x1`). */
function concretePath(pattern: string): string {
  return pattern.replace(/:\w+(\{[^}]*\})?/g, "x1").replace(/\*$/, "x1");
}

/** Every method and path the app registered a handler for, but its catch-alls and middleware. */
function registeredRoutes(app: ReturnType<typeof makeApp>["app"]): { method: string; path: string }[] {
  const seen = new Set<string>();
  const out: { method: string; path: string }[] = [];
  for (const route of app.routes) {
    if (route.method === "ALL" || route.path === "/*") continue;
    const key = `${route.method} ${route.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ method: route.method, path: route.path });
  }
  return out;
}

async function assertUnauthorized(response: Response, what: string): Promise<void> {
  assert.equal(response.status, 401, what);
  const body = await response.json();
  assert.equal(body.error.code, "unauthorized", what);
  assert.match(body.error.message, /token|log ?in/i, what);
}

Deno.test("every registered owner route refuses requests without the owner's token and reaches nothing", async () => {
  const { app, calls } = makeApp();
  const routes = registeredRoutes(app).filter((r) => !isPublicPath(r.path));
  // The API, the pages, and the login-link route are all in the app's route table.
  assert.ok(routes.length >= 40, `only ${routes.length} owner routes registered`);
  for (const path of ["/api/v1/wallet/withdraw", "/api/v1/purchases/:id/data", "/", "/api/v1/login-links"]) {
    assert.ok(routes.some((r) => r.path === path), `${path} is registered`);
  }
  const badCredentials: Record<string, string>[] = [
    {},
    { Authorization: `Bearer ${otherToken}` },
    { Authorization: `Bearer ${token.slice(0, -1)}` },
    { Authorization: `Bearer ${token}x` },
    { Authorization: `Basic ${btoa(`owner:${token}`)}` },
    { Authorization: token },
    { Cookie: "kosmos_session=1.2.3" },
  ];
  for (const { method, path } of routes) {
    for (const headers of badCredentials) {
      const init: RequestInit = { method, headers };
      if (method !== "GET" && method !== "HEAD") init.body = "{}";
      const response = await app.request(concretePath(path), init);
      if (method === "HEAD") {
        assert.equal(response.status, 401, `HEAD ${path}`);
        continue;
      }
      await assertUnauthorized(response, `${method} ${path} with ${JSON.stringify(headers)}`);
    }
    // A token in the query string is not a credential: URLs end up in logs and histories.
    const query = await app.request(`${concretePath(path)}?token=${token}&access_token=${token}`, { method });
    assert.equal(query.status, 401, `${method} ${path}?token=`);
    await query.body?.cancel();
  }
  assert.deepEqual(calls, [], "no unauthenticated request reached the node");
});

Deno.test("the owner's bearer token opens every owner route", async () => {
  const { app, calls } = makeApp();
  for (const { method, path } of registeredRoutes(app).filter((r) => !isPublicPath(r.path))) {
    const init: RequestInit = { method, headers: { Authorization: `Bearer ${token}` } };
    if (method !== "GET" && method !== "HEAD") init.body = "{}";
    const response = await app.request(concretePath(path), init);
    assert.notEqual(response.status, 401, `${method} ${path}`);
    assert.notEqual(response.status, 403, `${method} ${path}`);
    await response.body?.cancel();
  }
  assert.ok(calls.length > 0, "authenticated requests reach the node");
});

Deno.test("PUBLIC_ROUTES are the tracker, its event endpoint, the login route, the Stats API (checked by its routes), static assets, a dev network's faucet, the browser extension's three routes and a public node's IPFS gateway, open to anyone", async () => {
  assert.deepEqual(PUBLIC_ROUTES.map((r) => r.path), [
    "/js/kosmos.js",
    "/api/event",
    "/login",
    "/api/v2/query",
    "/api/v1/stats/*",
    "/static/*",
    "/api/v1/faucet",
    "/api/v1/extension/pair",
    "/api/v1/extension/status",
    "/api/v1/extension/visits",
    "/api/v1/ingest/readings",
    "/api/v1/proofs/*",
    "/ipfs/*",
  ]);
  const { app, calls } = makeApp();
  const tracker = await app.request("/js/kosmos.js");
  assert.equal(tracker.status, 200);
  await tracker.body?.cancel();
  const event = await app.request("/api/event", {
    method: "POST",
    body: JSON.stringify({ n: "pageview", u: "https://shop.example/", d: "shop.example", r: null }),
    headers: { "Content-Type": "text/plain" },
  });
  assert.equal(event.status, 202);
  await event.body?.cancel();
  assert.deepEqual(calls, ["recordEvent"]);
  // The faucet reaches the node without a token (which answers 404 off a dev network), and its
  // address is validated before that.
  const faucet = await app.request("/api/v1/faucet", {
    method: "POST",
    body: JSON.stringify({ address: "0x1234" }),
    headers: { "Content-Type": "application/json" },
  });
  assert.equal(faucet.status, 422);
  await faucet.body?.cancel();
  const drip = await app.request("/api/v1/faucet", { method: "POST" });
  assert.equal(drip.status, 404);
  await drip.body?.cancel();
  assert.deepEqual(calls, ["recordEvent", "requestFaucet"]);
  // An anchoring proof reaches the node without a token (this facade has none: 404).
  const proof = await app.request(
    "/api/v1/proofs/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
  );
  assert.equal(proof.status, 404);
  await proof.body?.cancel();
  assert.deepEqual(calls, ["recordEvent", "requestFaucet", "getProof"]);
  assert.equal(isPublicPath("/api/v1/proofs"), false);
  // The IPFS gateway is public; on a node without --public-url (this one) it answers 404, reading nothing.
  const block = await app.request(
    "/ipfs/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku?format=raw",
  );
  assert.equal(block.status, 404);
  await block.body?.cancel();
  assert.deepEqual(calls, ["recordEvent", "requestFaucet", "getProof"]);
  assert.equal(isPublicPath("/ipfsx/a"), false);
  assert.equal(isPublicPath("/ipfs"), false);
  assert.equal(isPublicPath("/api/v1/faucet/x"), false);
  assert.equal(isPublicPath("/api/v1/faucets"), false);
  const style = await app.request("/static/style.css");
  assert.equal(style.status, 200);
  await style.body?.cancel();
  // Public paths are matched exactly: nothing below them that is not theirs.
  assert.equal(isPublicPath("/api/event/../v1/wallet"), false);
  assert.equal(isPublicPath("/api/events"), false);
  assert.equal(isPublicPath("/login/x"), false);
  assert.equal(isPublicPath("/staticx/a"), false);
  const climbing = await app.request("/static/../api/v1/wallet");
  assert.equal(climbing.status, 401);
  await climbing.body?.cancel();
});

Deno.test("an unauthenticated browser gets a 401 page saying how to log in, with the CSP and none of the owner's data", async () => {
  const { app, calls } = makeApp();
  for (const path of ["/", "/wallet", "/purchases", "/datasets/x1"]) {
    const response = await app.request(path, { headers: { Accept: "text/html" } });
    assert.equal(response.status, 401, path);
    assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(response.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    const html = await response.text();
    assert.match(html, /login link/);
    assert.match(html, /kosmos login/);
  }
  assert.deepEqual(calls, []);
  const api = await app.request("/api/v1/wallet");
  assert.deepEqual(await api.json(), { error: { code: "unauthorized", message: UNAUTHORIZED_MESSAGE } });
});

Deno.test("a login link works once, sets an HttpOnly SameSite=Strict cookie and redirects to /", async () => {
  const { app, auth, calls } = makeApp();
  const link = new URL(auth.createLoginLink("http://127.0.0.1:7464").url);
  assert.equal(link.pathname, "/login");
  assert.doesNotMatch(link.href, new RegExp(token), "the link does not carry the token");
  const login = await app.request(link.pathname + link.search);
  assert.equal(login.status, 303);
  assert.equal(login.headers.get("location"), "/");
  const cookie = login.headers.get("set-cookie") ?? "";
  const [pair, ...attributes] = cookie.split(/;\s*/);
  assert.ok(pair.startsWith(`${auth.cookieName}=`));
  assert.doesNotMatch(cookie, new RegExp(token), "the cookie is not the token");
  assert.ok(attributes.includes("HttpOnly"), cookie);
  assert.ok(attributes.includes("SameSite=Strict"), cookie);
  assert.ok(attributes.includes("Path=/"), cookie);
  assert.ok(attributes.some((a) => /^Max-Age=\d+$/.test(a)), cookie);

  const page = await app.request("/publish", { headers: { Cookie: pair, Accept: "text/html" } });
  assert.equal(page.status, 200);
  await page.body?.cancel();
  const api = await app.request("/api/v1/listings", { headers: { Cookie: pair } });
  assert.notEqual(api.status, 401);
  await api.body?.cancel();
  assert.ok(calls.length > 0);

  // The same link a second time: refused, no cookie.
  const again = await app.request(link.pathname + link.search, { headers: { Accept: "text/html" } });
  assert.equal(again.status, 401);
  assert.equal(again.headers.get("set-cookie"), null);
  assert.match(again.headers.get("content-security-policy") ?? "", /default-src 'self'/);
  assert.match(await again.text(), /used already, has expired/);
  // Nor does a made-up code, an empty one, or a huge one.
  for (const search of ["?code=AAAA", "?code=", "", `?code=${"A".repeat(5000)}`]) {
    const response = await app.request(`/login${search}`);
    assert.equal(response.status, 401, search);
    assert.equal(response.headers.get("set-cookie"), null);
    await response.body?.cancel();
  }
});

Deno.test("a login code expires after 10 minutes, and a session after its Max-Age", async () => {
  let now = 1_800_000_000_000;
  const { app, auth } = makeApp({ now: () => now });
  const stale = new URL(auth.createLoginLink("http://127.0.0.1:7464").url);
  const fresh = new URL(auth.createLoginLink("http://127.0.0.1:7464").url);
  now += 10 * 60_000;
  const late = await app.request(stale.pathname + stale.search);
  assert.equal(late.status, 401);
  await late.body?.cancel();
  now -= 1;
  const inTime = await app.request(fresh.pathname + fresh.search);
  assert.equal(inTime.status, 303);
  const pair = (inTime.headers.get("set-cookie") ?? "").split(";")[0];
  const session = pair.slice(pair.indexOf("=") + 1);
  assert.ok(auth.verifySession(session));
  now += auth.sessionMaxAge * 1000 + 1;
  assert.equal(auth.verifySession(session), false);
  const expired = await app.request("/api/v1/listings", { headers: { Cookie: pair } });
  assert.equal(expired.status, 401);
  await expired.body?.cancel();
});

Deno.test("a session cookie cannot be forged, stretched or carried to a node with another token", () => {
  const auth = createApiAuth(token);
  const link = new URL(auth.createLoginLink("http://127.0.0.1:7464").url);
  const session = auth.redeemLoginCode(link.searchParams.get("code")!)!;
  assert.ok(auth.verifySession(session));
  const [expiry, nonce, mac] = session.split(".");
  assert.equal(auth.verifySession(`${Number(expiry) + 1}.${nonce}.${mac}`), false);
  assert.equal(auth.verifySession(`${expiry}.${nonce}x.${mac}`), false);
  const flipped = mac.endsWith("A") ? "B" : "A"; // a different last character, whatever the MAC ends with
  assert.equal(auth.verifySession(`${expiry}.${nonce}.${mac.slice(0, -1)}${flipped}`), false);
  assert.equal(auth.verifySession(""), false);
  assert.equal(createApiAuth(otherToken).verifySession(session), false);
  assert.notEqual(createApiAuth(otherToken).cookieName, auth.cookieName, "nodes on one host keep apart");
});

Deno.test("a cookie-authenticated write from another site is still refused", async () => {
  const { app, auth, calls } = makeApp();
  const link = new URL(auth.createLoginLink("http://127.0.0.1:7464").url);
  const pair =
    ((await app.request(link.pathname + link.search)).headers.get("set-cookie") ?? "").split(";")[0];
  const response = await app.request("/api/v1/wallet/withdraw", {
    method: "POST",
    body: "{}",
    headers: { Cookie: pair, "Sec-Fetch-Site": "cross-site", Origin: "http://evil.example" },
  });
  assert.equal(response.status, 403);
  await response.body?.cancel();
  assert.deepEqual(calls, []);
});

Deno.test("the Host allow-list holds whatever the node listens on", async () => {
  const calls: string[] = [];
  const app = createApp(recordingFacade(calls), {
    log: quietLog,
    auth: createApiAuth(token),
    allowedHosts: ["127.0.0.1", "localhost", "::1", "kosmos.example.org"],
  });
  const as = (host: string) =>
    app.request(`http://${host}/api/v1/listings`, { headers: { Authorization: `Bearer ${token}` } });
  for (const host of ["127.0.0.1:7464", "localhost", "[::1]:1", "kosmos.example.org", "127.1:7464"]) {
    const response = await as(host);
    assert.notEqual(response.status, 403, host);
    await response.body?.cancel();
  }
  for (
    const host of ["0.0.0.0:7464", "192.168.1.20:7464", "10.0.0.3", "evil.example", "kosmos.example.org.evil"]
  ) {
    const response = await as(host);
    assert.equal(response.status, 403, host);
    await response.body?.cancel();
  }
});

Deno.test("non-HTML responses carry nosniff, and downloads (exports included) a sandbox CSP", async () => {
  const { app } = makeApp();
  for (const path of ["/api/v1/nope", "/js/kosmos.js", "/static/style.css", "/api/v1/listings"]) {
    const response = await app.request(path, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(response.headers.get("x-content-type-options"), "nosniff", path);
    await response.body?.cancel();
  }
  const exporting = createApp(
    recordingFacade([], {
      exportPurchase: () =>
        Promise.resolve({
          stream: ReadableStream.from([new TextEncoder().encode("<script>alert(1)</script>\n")]),
          contentType: "text/csv; charset=utf-8",
          filename: "rows.csv",
        }),
    }),
    { log: quietLog, auth: createApiAuth(token) },
  );
  const id = "00000000-0000-4000-8000-000000000000";
  const csv = await exporting.request(`/api/v1/purchases/${id}/export?format=csv`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get("content-disposition") ?? "", /^attachment; filename="rows\.csv"$/);
  assert.equal(csv.headers.get("content-security-policy"), "sandbox");
  assert.equal(csv.headers.get("x-content-type-options"), "nosniff");
  await csv.body?.cancel();
});

Deno.test("loadApiToken() creates a 32-byte token with mode 0600 once, and keeps it across restarts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-token-" });
  try {
    const tokens = await Promise.all([1, 2, 3, 4].map(() => loadApiToken(dir)));
    assert.match(tokens[0], /^[0-9a-f]{64}$/);
    assert.ok(tokens.every((t) => t === tokens[0]), "concurrent starts agree on one token");
    const path = `${dir}/${API_TOKEN_FILE}`;
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal(await loadApiToken(dir), tokens[0], "the same token after a restart");
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name),
      [API_TOKEN_FILE],
      "no temporary file left behind",
    );
    await Deno.chmod(path, 0o644);
    assert.equal(await loadApiToken(dir), tokens[0]);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600, "a loosened mode is tightened again");
    // The CLI reads the same file, or KOSMOS_TOKEN, and never makes one.
    assert.equal(await readClientToken("login", { dataDir: dir, env: {} }), tokens[0]);
    assert.equal(
      await readClientToken("login", { dataDir: dir, env: { KOSMOS_TOKEN: otherToken } }),
      otherToken,
    );
    const empty = await Deno.makeTempDir({ prefix: "kosmos-token-" });
    await assert.rejects(
      readClientToken("login", { dataDir: empty, env: {} }),
      /no API token at .*KOSMOS_TOKEN/,
    );
    assert.deepEqual([...Deno.readDirSync(empty)], []);
    await Deno.remove(empty);
    await Deno.writeTextFile(path, "not a token\n");
    await assert.rejects(loadApiToken(dir), { name: "ConfigError", message: /corrupt/ });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
