import assert from "node:assert/strict";
import { ProviderScores } from "./scores.ts";

Deno.test("ProviderScores bans a provider that served a corrupt block and only costs a little for a missing one", () => {
  const scores = new ProviderScores();
  assert.equal(scores.getScore("bad"), 0);
  scores.penalise("bad", "corrupt");
  assert.ok(scores.isBanned("bad"));
  assert.ok(scores.getScore("bad") <= -100);
  scores.penalise("slow", "missing");
  scores.penalise("slow", "error");
  assert.equal(scores.isBanned("slow"), false);
  assert.equal(scores.getScore("slow"), -11);
});

Deno.test("ProviderScores caps rewards and lets a served ban start over", () => {
  const scores = new ProviderScores({ banDuration: 0 });
  for (let i = 0; i < 50; i++) scores.reward("good");
  assert.equal(scores.getScore("good"), 10);
  scores.penalise("bad", "corrupt");
  // A zero-length ban has already been served: the provider is back at zero.
  assert.equal(scores.isBanned("bad"), false);
  assert.equal(scores.getScore("bad"), 0);
});
