/**
 * The project's base error. Each failure the node or a protocol codec can report
 * has one small class extending it; callers match on `err.name`. Bad arguments
 * use the built-ins (`TypeError`, `RangeError`) instead.
 *
 * ```ts
 * export class QuoteError extends KosmosError {
 *   override name = "QuoteError";
 * }
 * throw new QuoteError("Cannot buy listing: no seller answered", { details: { manifestCid } });
 * ```
 */
export class KosmosError extends Error {
  override name = "KosmosError";
  readonly details: Record<string, unknown>;
  constructor(
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.details = options.details ?? {};
  }
}
