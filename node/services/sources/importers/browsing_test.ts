import assert from "node:assert/strict";
import { SOURCE_KIND_INFO } from "../../../../protocol/sources.ts";
import { BROWSING_VISITS } from "../../../../scripts/fixtures/browsing.ts";
import { importFailure, importFixture, importRows, streamOf } from "./testing.ts";

Deno.test("browsing.parse() reads the extension's visits: exactly the kind's fields, in the file's order", async () => {
  const rows = await importFixture("browsing", "browsing/visits.json");
  assert.equal(rows.length, BROWSING_VISITS);
  assert.deepEqual(Object.keys(rows[0]), SOURCE_KIND_INFO.browsing.fields.map((f) => f.name));
  const file = JSON.parse(
    await Deno.readTextFile(
      new URL(
        "../../../../tests/fixtures/sources/browsing/visits.json",
        import.meta.url,
      ),
    ),
  );
  assert.deepEqual(
    rows,
    file.map((v: { domain: string; visitedAt: number }) => ({
      visitedAt: v.visitedAt,
      domain: v.domain,
    })),
  );
  assert.ok(rows.some((r) => r.domain === "xn--mnchen-3ya.de"), "punycode domains are kept");
});

Deno.test("browsing.parse() names the record of a URL, an old time, an extra field or a cut file", async () => {
  const cases: [string, string][] = [
    [
      "visits_url.json",
      'visits_url.json record 4: domain "https://github.com/x" is not a host name (only the site\'s name: no scheme, path, port or spaces)',
    ],
    ["visits_old.json", "visits_old.json record 4: visitedAt 86400000 is before 2000-01-01"],
    ["visits_extra.json", 'visits_extra.json record 4: unknown field "url"'],
    [
      "visits_truncated.json",
      "visits_truncated.json record 12: the file ends in the middle of a record (is it cut short?)",
    ],
    ["wrong_kind.json", "wrong_kind.json: not a browsing log: expected a JSON array"],
  ];
  for (const [file, message] of cases) {
    assert.equal((await importFailure("browsing", `browsing/${file}`)).message, message);
  }
});

Deno.test("browsing.parse() refuses upper case, ports, spaces, a visit in the future and a non-object", async () => {
  const now = Date.now();
  const bad: [unknown, RegExp][] = [
    [{ domain: "GitHub.com", visitedAt: now }, /not lower case/],
    [{ domain: "github.com:443", visitedAt: now }, /not a host name/],
    [{ domain: "git hub.com", visitedAt: now }, /not a host name/],
    [{ domain: "-a.com", visitedAt: now }, /not a host name/],
    [{ domain: "a..com", visitedAt: now }, /not a host name/],
    [{ domain: "", visitedAt: now }, /empty/],
    [{ domain: `${"a".repeat(250)}.com`, visitedAt: now }, /longer than 253/],
    [{ domain: "github.com", visitedAt: now + 3 * 24 * 3600_000 }, /in the future/],
    [{ domain: "github.com", visitedAt: 1.5e12 + 0.5 }, /not a whole number/],
    [{ domain: "github.com" }, /not a whole number/],
    ["github.com", /not an object/],
  ];
  for (const [visit, message] of bad) {
    await assert.rejects(
      importRows(
        "browsing",
        streamOf(JSON.stringify([{ domain: "a.org", visitedAt: now }, visit])),
        "x.json",
      ),
      (err: Error) => err.name === "ImportError" && message.test(err.message) && /record 2/.test(err.message),
      JSON.stringify(visit),
    );
  }
  const ok = await importRows(
    "browsing",
    streamOf(
      JSON.stringify([{ domain: "127.0.0.1", visitedAt: now }, { domain: "localhost", visitedAt: now }]),
    ),
    "x.json",
  );
  assert.deepEqual(ok.map((r) => r.domain), ["127.0.0.1", "localhost"]);
});
