import assert from "node:assert/strict";
import { repairOrder } from "./circle.ts";
import type { ReplicationStatus, Role, Row } from "./schema.ts";

function row(
  id: string,
  status: ReplicationStatus,
  checkedAt: number,
  held: { local?: 1; role?: Role } = {},
  createdAt = 0,
): Row {
  return {
    manifest_cid: id,
    target: 3,
    watched: 1,
    local: held.local ?? 0,
    role: held.role ?? null,
    bytes: 0,
    providers: "[]",
    status,
    checked_at: checkedAt,
    created_at: createdAt,
    dkey: null,
  };
}

Deno.test("repairOrder() counts held datasets first, then those with providers, then never counted, nobody's last", () => {
  const rows = [
    row("dead-old", "unavailable", 1),
    row("pending", "pending", 0),
    row("replicated-new", "replicated", 50),
    row("held-new", "replicated", 90, { local: 1 }),
    row("under", "under-replicated", 70),
    row("elsewhere", "elsewhere", 5),
    row("replicated-old", "replicated", 10),
    row("replica-fetching", "fetching", 95, { role: "replica" }),
    row("fetching", "fetching", 60),
    row("dead-new", "unavailable", 99),
    row("held-old", "unavailable", 2, { local: 1, role: "origin" }),
  ];
  assert.deepEqual(rows.sort(repairOrder).map((r) => r.manifest_cid), [
    "held-old",
    "held-new",
    "replica-fetching",
    "fetching",
    "under",
    "replicated-old",
    "replicated-new",
    "pending",
    "elsewhere",
    "dead-old",
    "dead-new",
  ]);
});

Deno.test("repairOrder() counts the most recently watched first among datasets never counted here", () => {
  // Thousands learnt at once (a node joining, a catalog sync) and then a new dataset, or one this
  // node became close to as a holder left: the new one must not wait behind them.
  const rows = [
    row("learnt-first", "pending", 0, {}, 1_000),
    row("new-listing", "pending", 0, {}, 9_000),
    row("learnt-later", "pending", 0, {}, 2_000),
    row("close-now", "elsewhere", 500, {}, 5_000),
    row("counted", "replicated", 8_000, {}, 100),
    row("dead", "unavailable", 10, {}, 9_500),
  ];
  assert.deepEqual(rows.sort(repairOrder).map((r) => r.manifest_cid), [
    "counted",
    "new-listing",
    "close-now",
    "learnt-later",
    "learnt-first",
    "dead",
  ]);
});
