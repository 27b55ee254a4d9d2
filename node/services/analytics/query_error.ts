/**
 * The error of a stats query Plausible would refuse, with Plausible's own
 * message (the HTTP layer answers it as `{ "error": message }`), and
 * {@link inspect}, which prints a JSON value the way Plausible's messages do
 * (Elixir's `inspect`: `["is", "visit:os", ["Linux"]]`, `%{"a" => 1}`).
 */

/** A query Plausible's API would refuse: 400 unless said otherwise. */
export class QueryError extends Error {
  override readonly name = "QueryError";
  readonly status: 400 | 401 | 404;
  constructor(message: string, status: 400 | 401 | 404 = 400) {
    super(message);
    this.status = status;
  }
}

/** Elixir-style rendering of a JSON value, cut to `max` characters. */
export function inspect(value: unknown, max = 300): string {
  const out = render(value, 0);
  return out.length > max ? `${out.slice(0, max)}…` : out;
}

function render(value: unknown, depth: number): string {
  if (depth > 8) return "…";
  if (value === null || value === undefined) return "nil";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map((v) => render(v, depth + 1)).join(", ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    return `%{${entries.map(([k, v]) => `${JSON.stringify(k)} => ${render(v, depth + 1)}`).join(", ")}}`;
  }
  return String(value);
}
