import assert from "node:assert/strict";
import { SOURCE_KIND_INFO } from "../../../../protocol/sources.ts";
import { domainOf } from "./chrome.ts";
import { importFailure, importFixture } from "./testing.ts";

const CLIENT = "qzR8vX1sTn2k0wLmA4bC5g==";

Deno.test("chrome.parse() reads BrowserHistory.json: exactly the kind's fields, the domain of each URL", async () => {
  const rows = await importFixture("chrome", "chrome/BrowserHistory.json");
  assert.equal(rows.length, 324);
  assert.deepEqual(Object.keys(rows[0]), SOURCE_KIND_INFO.chrome.fields.map((f) => f.name));
  assert.deepEqual(rows[0], {
    visitedAt: Date.UTC(2023, 4, 3, 19, 46, 8),
    domain: "bahn.de",
    transition: "RELOAD",
    url: "https://www.bahn.de/buchung/fahrplan/suche",
    title: "Fahrplan | Deutsche Bahn",
    clientId: CLIENT,
  });
  assert.deepEqual(rows[323], {
    visitedAt: Date.UTC(2023, 4, 1, 8, 2, 56),
    domain: "mail.example.org",
    transition: "FORM_SUBMIT",
    url: "https://mail.example.org/inbox",
    title: "Inbox (3) - mail",
    clientId: CLIENT,
  });
});

Deno.test("chrome.parse() reads a bare array and entries that lack fields", async () => {
  const bare = await importFixture("chrome", "chrome/BrowserHistory_array.json");
  assert.equal(bare.length, 20);
  assert.equal(bare[0].visitedAt, Date.UTC(2023, 4, 2, 15, 35, 20));
  assert.equal(bare[0].domain, "developer.mozilla.org");
  const sparse = await importFixture("chrome", "chrome/BrowserHistory_missing_fields.json");
  assert.equal(sparse.length, 20);
  assert.deepEqual(sparse.slice(0, 3), [
    {
      visitedAt: Date.UTC(2023, 4, 2, 15, 35, 20), // time_usec written as a string
      domain: "developer.mozilla.org",
      transition: null,
      url: "https://developer.mozilla.org/en-US/docs/Web/API/Streams_API",
      title: null,
      clientId: null,
    },
    {
      visitedAt: Date.UTC(2023, 4, 2, 14, 39, 21),
      domain: null,
      transition: "RELOAD",
      url: "about:blank",
      title: "Ask HN: What are you reading? | Hacker News",
      clientId: CLIENT,
    },
    {
      visitedAt: Date.UTC(2023, 4, 2, 13, 16, 29),
      domain: "mail.example.org",
      transition: "AUTO_BOOKMARK",
      url: "https://mail.example.org/inbox",
      title: null,
      clientId: null,
    },
  ]);
});

Deno.test("chrome.parse() names the file and record of a bad time or a cut file, and rejects other files", async () => {
  const cases: [string, string][] = [
    [
      "BrowserHistory_bad_time.json",
      'BrowserHistory_bad_time.json record 5: time_usec "soon" is not a time in microseconds',
    ],
    [
      "BrowserHistory_truncated.json",
      "BrowserHistory_truncated.json record 12: the file ends in the middle of a record (is it cut short?)",
    ],
    [
      "wrong_kind.json",
      'wrong_kind.json: not a Chrome BrowserHistory.json: expected a JSON array or an object with "Browser History"',
    ],
    [
      "wrong_object.json",
      'wrong_object.json: not a Chrome BrowserHistory.json: no "Browser History" records',
    ],
  ];
  for (const [file, message] of cases) {
    assert.equal((await importFailure("chrome", `chrome/${file}`)).message, message);
  }
});

Deno.test("domainOf() keeps the host without www., and has none for addresses without a host", () => {
  assert.equal(domainOf("https://WWW.Example.org:8443/a?b#c"), "example.org");
  assert.equal(domainOf("chrome://settings/"), "settings");
  assert.equal(domainOf("file:///home/x.html"), null);
  assert.equal(domainOf("not a url"), null);
  assert.equal(domainOf(null), null);
});
