/** Durations in milliseconds, and the defaults shared across the node. */
export const second = 1_000;
export const minute = 60 * second;
export const hour = 60 * minute;
export const day = 24 * hour;

export function seconds(n: number): number {
  return n * second;
}
export function minutes(n: number): number {
  return n * minute;
}
export function hours(n: number): number {
  return n * hour;
}

/** Version reported by `GET /api/v1/node`; bump with each release. */
export const VERSION = "0.1.0";

/** Default HTTP port of the API and web UI ("KOSM" on a phone keypad, shortened). */
export const DEFAULT_HTTP_PORT = 7464;
