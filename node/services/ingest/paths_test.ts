import assert from "node:assert/strict";
import { openDatabase } from "../db/mod.ts";
import { checkSitePath, FirstPartyPaths } from "./paths.ts";

Deno.test("FirstPartyPaths sets, resolves, changes and clears a site's paths", () => {
  const db = openDatabase(":memory:");
  const paths = new FirstPartyPaths(db);
  assert.deepEqual(paths.getPaths("a.example"), {});
  assert.deepEqual(paths.setPaths("a.example", { scriptPath: "/js/stats.js", eventPath: "/x/collect" }), {
    scriptPath: "/js/stats.js",
    eventPath: "/x/collect",
  });
  assert.deepEqual(paths.resolve("/x/collect"), { kind: "event", site: "a.example" });
  assert.deepEqual(paths.resolve("/js/stats.js"), { kind: "script", site: "a.example" });
  assert.equal(paths.resolve("/js/other.js"), undefined);
  assert.deepEqual(
    new FirstPartyPaths(db).resolve("/x/collect"),
    { kind: "event", site: "a.example" },
    "kept",
  );
  paths.setPaths("a.example", { eventPath: "/y/e" });
  assert.equal(paths.resolve("/x/collect"), undefined);
  assert.equal(paths.resolve("/js/stats.js"), undefined);
  paths.setPaths("a.example", {});
  assert.equal(paths.resolve("/y/e"), undefined);
  assert.deepEqual(paths.getPaths("a.example"), {});
});

Deno.test("FirstPartyPaths refuses bad paths, the node's own routes and another site's paths", () => {
  const paths = new FirstPartyPaths(openDatabase(":memory:"));
  paths.setPaths("a.example", { scriptPath: "/s.js", eventPath: "/e" });
  assert.throws(() => paths.setPaths("b.example", { eventPath: "/e" }), /already used by a\.example/);
  assert.throws(
    () => paths.setPaths("b.example", { scriptPath: "/same", eventPath: "/same" }),
    /must differ/,
  );
  for (
    const bad of [
      "",
      "x",
      "/",
      "/a b",
      "/a/../b",
      "/a?b",
      "/a#b",
      "//a",
      `/${"a".repeat(100)}`,
      "/a/b/c/d/e/f",
    ]
  ) {
    assert.throws(() => checkSitePath(bad, "eventPath"), /"eventPath" must be an absolute path/, bad);
  }
  for (
    const own of ["/api/v1/sites", "/api/v2/query", "/api/event", "/js/kosmos.js", "/login", "/static/x.js"]
  ) {
    assert.throws(() => checkSitePath(own, "scriptPath"), /this node's own routes/, own);
  }
  assert.equal(checkSitePath("/js/script.js", "scriptPath"), "/js/script.js");
  assert.equal(checkSitePath("/api/ev", "eventPath"), "/api/ev");
  assert.deepEqual(paths.getPaths("b.example"), {}, "nothing of a refused change is kept");
});
