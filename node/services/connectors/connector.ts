/**
 * The connector interface: where export batches go. A connector delivers
 * one batch at a time, in order, and throws when it cannot; the delivery
 * runner (`mod.ts`) records every attempt it reports.
 */
import { KosmosError } from "../../errors.ts";
import type { ExportFormat } from "./export.ts";
import type { Row } from "./read_rows.ts";

export interface DeliveryBatch {
  rows: Row[];
  format: ExportFormat;
  /** 1 for the first batch of a delivery, then 2, 3, … */
  seq: number;
}

/** One try at delivering a batch, as a connector reports it. */
export interface DeliveryAttempt {
  seq: number;
  /** 1 for the first try of this batch. */
  attempt: number;
  /** HTTP status, for connectors that speak HTTP. */
  status?: number;
  /** Why it failed; absent when it succeeded. */
  error?: string;
}

export interface DeliverOptions {
  signal?: AbortSignal;
  /** Called after each try, failed or not. */
  onAttempt?: (attempt: DeliveryAttempt) => void;
}

export interface Connector {
  /** Kind of connector: `"directory"`, `"webhook"`. */
  readonly name: string;
  deliver(batch: DeliveryBatch, options: DeliverOptions): Promise<void>;
}

/** A connector gave up on a batch. */
export class DeliveryError extends KosmosError {
  override name = "DeliveryError";
  /** Last HTTP status seen, for HTTP connectors. */
  readonly status?: number;
  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    if (options.status !== undefined) this.status = options.status;
  }
}
