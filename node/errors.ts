/**
 * Domain errors. Each failure the node can report has one small class; callers
 * match on `err.name`. Bad arguments use the built-ins (`TypeError`,
 * `RangeError`) instead.
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

/** The node cannot start with the configuration it was given. */
export class ConfigError extends KosmosError {
  override name = "ConfigError";
}

/** A service failed to start (port in use, chain unreachable, …). */
export class StartError extends KosmosError {
  override name = "StartError";
}

/** Something looked for does not exist. */
export class NotFoundError extends KosmosError {
  override name = "NotFoundError";
}
