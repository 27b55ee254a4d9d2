import assert from "node:assert/strict";
import { isExcluded, normalizeExclusion, readState, summarize, visitOf } from "./state.ts";
import { normalizeNodeUrl } from "./node_client.ts";

const state = { paused: false, excluded: ["excluded.test"], nodeUrl: "http://127.0.0.1:7464" };
const at = Date.UTC(2026, 0, 2, 13, 45);

Deno.test("visitOf() records the domain and time of an http(s) page in a normal tab", () => {
  assert.deepEqual(visitOf({ url: "https://www.Example.org/a?b#c", incognito: false, at }, state), {
    domain: "example.org",
    visitedAt: at,
  });
  assert.deepEqual(visitOf({ url: "http://a.test:8080/x", incognito: false, at: at + 0.7 }, state), {
    domain: "a.test",
    visitedAt: at,
  });
});

Deno.test("visitOf() never records an incognito tab, a paused extension, other schemes, the node or excluded sites", () => {
  const page = "https://example.org/";
  assert.equal(visitOf({ url: page, incognito: true, at }, state), null, "incognito");
  assert.equal(visitOf({ url: page, incognito: false, at }, { ...state, paused: true }), null, "paused");
  for (
    const url of [
      "chrome://settings",
      "file:///home/a.html",
      "about:blank",
      "data:text/html,x",
      "ftp://x.org/",
    ]
  ) {
    assert.equal(visitOf({ url, incognito: false, at }, state), null, url);
  }
  assert.equal(visitOf({ url: "http://127.0.0.1:7464/data", incognito: false, at }, state), null, "the node");
  assert.notEqual(
    visitOf({ url: "http://127.0.0.1:9000/", incognito: false, at }, state),
    null,
    "another port",
  );
  assert.equal(visitOf({ url: "https://excluded.test/x", incognito: false, at }, state), null);
  assert.equal(visitOf({ url: "https://www.sub.excluded.test/", incognito: false, at }, state), null);
  assert.notEqual(visitOf({ url: "https://notexcluded.test/", incognito: false, at }, state), null);
});

Deno.test("exclusions: typed URLs become domains, subdomains are covered, junk is refused", () => {
  assert.equal(normalizeExclusion(" https://www.Example.org/path "), "example.org");
  assert.equal(normalizeExclusion("news.example.com"), "news.example.com");
  assert.equal(normalizeExclusion(""), null);
  assert.equal(normalizeExclusion("not a domain"), null);
  assert.ok(isExcluded("a.b.example.org", ["example.org"]));
  assert.ok(!isExcluded("badexample.org", ["example.org"]));
});

Deno.test("summarize() shows each domain and UTC hour with its visits, newest first", () => {
  const h = (hour: number, minute: number) => Date.UTC(2026, 0, 2, hour, minute);
  const visits = [
    { domain: "a.org", visitedAt: h(9, 5) },
    { domain: "a.org", visitedAt: h(9, 55) },
    { domain: "b.org", visitedAt: h(9, 30) },
    { domain: "a.org", visitedAt: h(10, 1) },
  ];
  assert.deepEqual(summarize(visits), [
    { domain: "a.org", hour: h(10, 0), visits: 1 },
    { domain: "a.org", hour: h(9, 0), visits: 2 },
    { domain: "b.org", hour: h(9, 0), visits: 1 },
  ]);
});

Deno.test("readState() fills in what storage lacks and ignores malformed values", () => {
  assert.deepEqual(readState({}), {
    visits: [],
    paused: false,
    excluded: [],
    nodeUrl: null,
    token: null,
    lastSend: null,
  });
  assert.deepEqual(readState({ paused: "yes", excluded: ["a.org", 3], visits: "x" }).excluded, ["a.org"]);
});

Deno.test("normalizeNodeUrl() takes only a loopback http origin", () => {
  assert.equal(normalizeNodeUrl(" http://127.0.0.1:7464/data "), "http://127.0.0.1:7464");
  assert.equal(normalizeNodeUrl("http://localhost:7465"), "http://localhost:7465");
  assert.equal(normalizeNodeUrl("https://node.example.org"), null);
  assert.equal(normalizeNodeUrl("http://192.168.1.2:7464"), null);
  assert.equal(normalizeNodeUrl("nonsense"), null);
});
