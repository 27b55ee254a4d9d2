/**
 * Rows for the privacy tests: fast-check arbitraries of rows of every kind (values that collide
 * often enough for classes to form, nulls, odd numbers and places), identifiers carrying a marker
 * no other value has, and seeded populations of exact trips and bank bookings for the linkage test.
 */
import fc from "fast-check";
import {
  type FieldSpec,
  SOURCE_KIND_INFO,
  type SourceKind,
  type SourceRow,
} from "../../../protocol/sources.ts";

/** Every identifier value contains this; no other value does. */
export const ID_MARKER = "IDENT";
/** Numeric identifiers (a bank balance) are drawn from [ID_NUMBER, ID_NUMBER + 1). */
export const ID_NUMBER = 918_273_645;

export const T0 = Date.parse("2024-03-01T00:00:00Z");
const HOUR = 3_600_000;

const PLACES = ["48.137154,11.576124", "48.1400,11.5800", "52.520008,13.404954", "-33.8688,151.2093", "0,0"];

function valueArbitrary(spec: FieldSpec): fc.Arbitrary<string | number | null> {
  if (spec.role === "identifier") {
    return spec.type === "number"
      ? fc.double({ min: ID_NUMBER, max: ID_NUMBER + 0.999, noNaN: true })
      : fc.string({ maxLength: 8 }).map((s) => `${ID_MARKER}:${s}`);
  }
  const value: fc.Arbitrary<string | number> = (() => {
    switch (spec.type) {
      case "time":
        return fc.oneof(
          fc.integer({ min: 0, max: 48 }).map((h) => T0 + h * HOUR + 17_000),
          fc.integer({ min: T0 - 400 * 24 * HOUR, max: T0 + 400 * 24 * HOUR }),
        );
      case "place":
        return fc.oneof(
          fc.constantFrom(...PLACES),
          fc.tuple(
            fc.double({ min: -90, max: 90, noNaN: true }),
            fc.double({ min: -180, max: 180, noNaN: true }),
          )
            .map(([lat, lng]) => `${lat},${lng}`),
        );
      case "number":
        return fc.oneof(
          fc.integer({ min: -5, max: 30 }),
          fc.double({ min: -1e6, max: 1e6, noNaN: true }),
          fc.constantFrom(0.6, 12.5, 19.99, -0.2),
        );
      default:
        return fc.oneof(fc.constantFrom("a", "b", 'q"u,o\nte'), fc.string({ maxLength: 4 }))
          .filter((s) => !s.includes(ID_MARKER));
    }
  })();
  return fc.option(value, { freq: 8, nil: null });
}

/** Arbitrary rows of one kind: exactly its fields. */
export function rowsArbitrary(kind: SourceKind, maxLength = 200): fc.Arbitrary<SourceRow[]> {
  const fields = SOURCE_KIND_INFO[kind].fields;
  const row = fc.record(Object.fromEntries(fields.map((f) => [f.name, valueArbitrary(f)])));
  return fc.array(row as fc.Arbitrary<SourceRow>, { maxLength });
}

/** A seeded uniform generator in [0, 1) (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `n` Uber trips with exact times (to the millisecond), places (to the metre) and fares: a city's
 * population of riders around a dozen hot spots over two months.
 */
export function uberPopulation(n: number, seed = 1): SourceRow[] {
  const random = seeded(seed);
  const spots = Array.from({ length: 12 }, () => [48.05 + random() * 0.25, 11.4 + random() * 0.35]);
  const place = () => {
    const [lat, lng] = spots[Math.floor(random() * spots.length)];
    return `${(lat + random() * 0.03).toFixed(6)},${(lng + random() * 0.03).toFixed(6)}`;
  };
  return Array.from({ length: n }, (_, i) => ({
    requestedAt: T0 + Math.floor(random() * 60 * 24 * HOUR),
    city: random() < 0.95 ? "Munich" : "Augsburg",
    pickup: place(),
    dropoff: place(),
    product: random() < 0.8 ? "UberX" : "Comfort",
    status: "COMPLETED",
    distanceKm: Math.round(random() * 250) / 10,
    fare: Math.round((6 + 40 * random() * random()) * 100) / 100,
    currency: "EUR",
    pickupAddress: `${ID_MARKER} ${i} Hauptstraße`,
    dropoffAddress: `${ID_MARKER} ${i} Bahnhofplatz`,
  }));
}

/** `n` bank bookings with exact days and amounts to the cent over a year. */
export function bankPopulation(n: number, seed = 2): SourceRow[] {
  const random = seeded(seed);
  return Array.from({ length: n }, (_, i) => {
    const amount = random() < 0.1
      ? Math.round(1500 + random() * 2500) * 1
      : -Math.round(random() * random() * 30_000) / 100;
    return {
      date: T0 + Math.floor(random() * 365) * 24 * HOUR,
      amount,
      direction: amount < 0 ? "out" : "in",
      currency: "EUR",
      description: `${ID_MARKER} payee ${i}`,
      balance: ID_NUMBER + random() * 0.5,
    };
  });
}
