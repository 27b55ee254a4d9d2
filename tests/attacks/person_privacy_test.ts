/**
 * Attack: membership of one person in a month of sold statistics. A visitor
 * id is one person on one UTC day, so a person who visits every day is 30 ids
 * in a 30-day release. On the old code each count's noise was calibrated to
 * one visitor id, so a release at ε = 1 cost that person up to 30·ε: an
 * attacker who knows everyone else's exact counts adds up the evidence of all
 * 30 days and tells whether the person was there far more often than ε = 1
 * allows.
 *
 * Now a release is calibrated to a person over its whole range (sensitivity
 * D times a visitor id's). The attacker is the best one there is: it knows
 * the exact bounded counts with and without the person, sees all three noisy
 * counts of all 30 days, and decides by the likelihood ratio. With a fair
 * coin deciding whether the person is in the table, no test does better than
 * e^ε/(1+e^ε) under ε-differential privacy; over 2,000 trials its accuracy
 * stays within three standard errors of that. The same attacker against the
 * old calibration (each day noised as a one-day table) does far better, so
 * the test can fail.
 */
import assert from "node:assert/strict";
import { openDatabase } from "../../node/services/db/mod.ts";
import { AnalyticsWriter } from "../../node/services/analytics/store.ts";
import { migrateAnalytics } from "../../node/services/analytics/schema.ts";
import { pageview, SITE } from "../../node/services/analytics/fixtures_test.ts";
import {
  type BoundedTable,
  computeBoundedTable,
  getDefaultBounds,
  type ReleaseRow,
} from "../../node/services/analytics/bounded_table.ts";
import {
  addNoise,
  createCryptoRandom,
  type NoisyTable,
  toRational,
} from "../../node/services/releases/noise.ts";

const DAYS = 30;
const TRIALS = 2_000;
const EPSILON = 1;
const DAY0 = Date.parse("2024-03-01T00:00:00Z");
const day = 86_400_000;
const minute = 60_000;
const COUNTS = ["visitors", "visits", "pageviews"] as const;

/** The person's bounded rows: every day 5 visits of 4 pageviews, one visitor id a day (the daily salt). */
function personRows(): ReleaseRow[] {
  const db = openDatabase(":memory:");
  migrateAnalytics(db);
  const events = [];
  for (let d = 0; d < DAYS; d++) {
    for (let visit = 0; visit < 5; visit++) {
      for (let p = 0; p < 4; p++) {
        events.push(pageview(DAY0 + d * day + visit * 90 * minute + p * minute, `person-${d}`, `/p${p}`));
      }
    }
  }
  new AnalyticsWriter(db).recordEvents(SITE, events);
  const table = computeBoundedTable(db, SITE, { from: dayOf(0), to: dayOf(DAYS - 1) });
  db.close();
  return table.rows;
}

function dayOf(d: number): string {
  return new Date(DAY0 + d * day).toISOString().slice(0, 10);
}

function tableOf(rows: ReleaseRow[]): BoundedTable {
  return {
    dimension: null,
    from: rows[0].date,
    to: rows.at(-1)!.date,
    bounds: getDefaultBounds(null),
    rows,
    publicDomain: true,
    dropped: { visits: 0, pageviews: 0 },
  };
}

/** Everyone else: thousands a day, far above k and with visits far above visitors, so nothing is cut or raised. */
const others: ReleaseRow[] = Array.from({ length: DAYS }, (_, d) => ({
  date: dayOf(d),
  value: null,
  visitors: 5_000 + 37 * d,
  visits: 10_000 + 53 * d,
  pageviews: 40_000 + 101 * d,
}));

type Release = (withPerson: boolean) => { rows: ReleaseRow[]; rates: NoisyTable["rates"] };

/**
 * The likelihood-ratio attacker's accuracy: a fair coin puts the person in or
 * out, the release is drawn, and the attacker says "in" when the released
 * counts are likelier with the person than without (discrete Laplace: the log
 * ratio of a count y is rate · (|y - without| - |y - with|)).
 */
function attack(release: Release, withRows: ReleaseRow[]): number {
  const coin = createCryptoRandom();
  let right = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const inside = coin.nextUint32() % 2 === 1;
    const { rows, rates } = release(inside);
    assert.equal(rows.length, DAYS, "no row was suppressed");
    let logRatio = 0;
    rows.forEach((r, d) => {
      // The attacker's likelihoods hold only if no count was raised by post-processing.
      assert.ok(r.visits > r.visitors && r.pageviews > 0, "no count was raised");
      for (const m of COUNTS) {
        const rate = rates[m].numerator / rates[m].denominator;
        logRatio += rate * (Math.abs(r[m] - others[d][m]) - Math.abs(r[m] - withRows[d][m]));
      }
    });
    const guess = logRatio > 0 || (logRatio === 0 && coin.nextUint32() % 2 === 1);
    if (guess === inside) right++;
  }
  return right / TRIALS;
}

Deno.test("a likelihood-ratio attacker who knows everyone else cannot tell whether a daily visitor is in a 30-day release beyond ε = 1", () => {
  const person = personRows();
  assert.deepEqual(
    person.map((r) => [r.visitors, r.visits, r.pageviews]),
    person.map(() => [1, 3, 10]),
    "the person adds a visitor id's whole bound on each of the 30 days",
  );
  const withRows = others.map((r, d) => ({
    ...r,
    visitors: r.visitors + person[d].visitors,
    visits: r.visits + person[d].visits,
    pageviews: r.pageviews + person[d].pageviews,
  }));
  const epsilon = toRational(EPSILON, 1);
  const best = Math.exp(EPSILON) / (1 + Math.exp(EPSILON));
  const bound = best + 3 * Math.sqrt((best * (1 - best)) / TRIALS);

  // Now: one release of the 30 days, calibrated to a person.
  const personLevel = attack((inside) => {
    const released = addNoise(tableOf(inside ? withRows : others), { epsilon, k: 10 });
    assert.equal(released.days, DAYS);
    return released;
  }, withRows);
  assert.ok(
    personLevel <= bound,
    `person-level release: the attacker is right ${personLevel} of the time, ε = 1 allows ${best.toFixed(3)}`,
  );

  // The old calibration: the same ε, each day's noise calibrated to one visitor id (a one-day table).
  const perDay = attack((inside) => {
    const rows: ReleaseRow[] = [];
    let rates: NoisyTable["rates"] | undefined;
    for (let d = 0; d < DAYS; d++) {
      const released = addNoise(tableOf([(inside ? withRows : others)[d]]), { epsilon, k: 10 });
      rows.push(...released.rows);
      rates = released.rates;
    }
    return { rows, rates: rates! };
  }, withRows);
  assert.ok(
    perDay > bound,
    `per-day calibration: the attacker is right ${perDay} of the time, above the ${
      bound.toFixed(3)
    } ε = 1 allows`,
  );
});
