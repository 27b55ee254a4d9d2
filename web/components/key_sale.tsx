/**
 * Pieces that show a key sale: its state as a coloured badge (the Buy island,
 * the Purchases and Sales tables) and the cells those two tables share.
 * Browser-safe: the Buy island bundles it.
 */
import type { PurchaseStatus } from "../../protocol/api/mod.ts";
import { formatDay, shortenId } from "../format.ts";

/** What each state of a key sale is called on screen. */
export const purchaseStatusLabel: Record<PurchaseStatus, string> = {
  quoted: "Quoted",
  opened: "Locked",
  revealed: "Key revealed",
  downloading: "Downloading",
  verified: "Verified",
  disputed: "Disputed",
  complete: "Complete",
  refunded: "Refunded",
  failed: "Failed",
};

export interface PurchaseStatusBadgeProps {
  status: PurchaseStatus;
  /** @default purchaseStatusLabel[status] */
  label?: string;
  "data-testid": string;
  "data-status"?: string;
}

export function PurchaseStatusBadge({ status, label, ...data }: PurchaseStatusBadgeProps) {
  return (
    <span class={`status status-buy-${status}`} {...data}>
      <span class="status-dot" aria-hidden="true" />
      {label ?? purchaseStatusLabel[status]}
    </span>
  );
}

/** A table cell with the badge and, after a failure, the start of the reason. */
export function PurchaseStatusCell(
  { status, error, testId }: { status: PurchaseStatus; error?: string | null; testId: string },
) {
  return (
    <td>
      <PurchaseStatusBadge status={status} data-testid={testId} />
      {error && <span class="muted-inline" title={error}>· {error.slice(0, 80)}</span>}
    </td>
  );
}

/** A table cell linking to the listing's page, by title when known. */
export function ListingCell({ manifestCid, title }: { manifestCid: string; title: string | null }) {
  return (
    <td>
      <a href={`/datasets/${encodeURIComponent(manifestCid)}`} title={manifestCid}>
        {title ?? shortenId(manifestCid, 12, 6)}
      </a>
    </td>
  );
}

/** A table cell with the day and minute of `ms` (Unix milliseconds). */
export function DayCell({ ms }: { ms: number }) {
  return (
    <td>
      <time dateTime={new Date(ms).toISOString()}>{formatDay(ms)}</time>
    </td>
  );
}
