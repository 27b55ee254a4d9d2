/**
 * The personal-data sources a contributor's node imports, and what each of their fields is to
 * privacy. An importer (`node/services/sources/importers/`) turns one service's export into rows of
 * exactly the fields listed here; the privacy service reads the roles to anonymize them; the consent
 * dialog shows the person what is collected and what leaves the node.
 *
 * Row values: times are ms since the epoch (numbers), places are `"lat,lng"` strings in decimal
 * degrees, numbers are numbers, text and categories are strings; `null` when the export has none.
 *
 * Roles:
 * - `identifier`: names the person or the record directly (a user name, an address, an order id, an
 *   IP): dropped before anything leaves the node, never generalised, never shown in a preview.
 * - `quasi`: harmless alone, identifying in combination (a time, a place, an amount): generalised as
 *   `generalise` says and part of the equivalence class k-anonymity counts.
 * - `plain`: kept as is (what was played, watched or measured).
 */
import type { Category } from "./manifest.ts";

export const SOURCE_KINDS = [
  "spotify",
  "netflix",
  "chrome",
  "apple-health",
  "uber",
  "amazon",
  "airbnb",
  "bank",
  "browsing",
] as const;
export type SourceKind = typeof SOURCE_KINDS[number];

export type FieldType = "time" | "place" | "number" | "text" | "category";
export type FieldRole = "identifier" | "quasi" | "plain";
/**
 * How a quasi-identifier is coarsened. `hour`/`day`/`month` truncate a time (UTC); `region` rounds a
 * place to a grid cell (a tenth of a degree, then a whole degree when classes stay smaller than k);
 * `range` puts a number into a bucket (bounds from the data: powers of ten times 1, 2, 5); `none`
 * keeps the value (a country) and only suppression applies.
 */
export type Generalisation = "hour" | "day" | "month" | "region" | "range" | "none";

export interface FieldSpec {
  name: string;
  type: FieldType;
  role: FieldRole;
  /** For `quasi` fields. */
  generalise?: Generalisation;
  /** What the person is told this field is. */
  label: string;
}

export interface SourceKindInfo {
  kind: SourceKind;
  /** The service, as the person knows it. */
  label: string;
  /** The export files this kind reads, as the service names them. */
  files: string;
  /** The listing category a publication of it takes. */
  category: Category;
  /** The field whose value orders rows in time (a `time` field). */
  timeField: string;
  fields: FieldSpec[];
}

const time = (name: string, label: string, generalise: Generalisation = "hour"): FieldSpec => ({
  name,
  type: "time",
  role: "quasi",
  generalise,
  label,
});
const id = (name: string, label: string, type: FieldType = "text"): FieldSpec => ({
  name,
  type,
  role: "identifier",
  label,
});
const plain = (name: string, label: string, type: FieldType = "text"): FieldSpec => ({
  name,
  type,
  role: "plain",
  label,
});
const quasi = (name: string, label: string, type: FieldType, generalise: Generalisation): FieldSpec => ({
  name,
  type,
  role: "quasi",
  generalise,
  label,
});

export const SOURCE_KIND_INFO: { readonly [K in SourceKind]: SourceKindInfo } = {
  spotify: {
    kind: "spotify",
    label: "Spotify",
    files: "StreamingHistory*.json, Streaming_History_Audio_*.json",
    category: "media",
    timeField: "playedAt",
    fields: [
      time("playedAt", "When a track ended"),
      plain("artist", "Artist"),
      plain("track", "Track"),
      plain("album", "Album"),
      plain("msPlayed", "Milliseconds played", "number"),
      quasi("country", "Country of the connection", "category", "none"),
      id("platform", "Device and operating system"),
      id("username", "Spotify user name"),
      id("ipAddress", "IP address"),
    ],
  },
  netflix: {
    kind: "netflix",
    label: "Netflix",
    files: "ViewingActivity.csv",
    category: "media",
    timeField: "startedAt",
    fields: [
      time("startedAt", "When viewing started"),
      plain("durationS", "Seconds watched", "number"),
      plain("title", "Title"),
      plain("videoType", "Supplemental video type", "category"),
      quasi("country", "Country", "category", "none"),
      id("profile", "Profile name"),
      id("device", "Device"),
    ],
  },
  chrome: {
    kind: "chrome",
    label: "Chrome history (Google Takeout)",
    files: "BrowserHistory.json",
    category: "analytics",
    timeField: "visitedAt",
    fields: [
      time("visitedAt", "When a page was visited"),
      plain("domain", "Site (domain only)"),
      plain("transition", "How the page was reached", "category"),
      id("url", "Full address of the page"),
      id("title", "Page title"),
      id("clientId", "Browser id"),
    ],
  },
  "apple-health": {
    kind: "apple-health",
    label: "Apple Health",
    files: "export.xml",
    category: "health",
    timeField: "startAt",
    fields: [
      time("startAt", "When a measurement started"),
      plain("type", "What was measured", "category"),
      plain("value", "Value", "number"),
      plain("unit", "Unit", "category"),
      plain("durationS", "Seconds the measurement spans", "number"),
      id("device", "Device or app that recorded it"),
    ],
  },
  uber: {
    kind: "uber",
    label: "Uber",
    files: "trips_data.csv",
    category: "mobility",
    timeField: "requestedAt",
    fields: [
      time("requestedAt", "When the trip was requested"),
      quasi("city", "City", "category", "none"),
      quasi("pickup", "Pickup place", "place", "region"),
      quasi("dropoff", "Drop-off place", "place", "region"),
      plain("product", "Product (UberX, …)", "category"),
      plain("status", "Trip status", "category"),
      quasi("distanceKm", "Distance in km", "number", "range"),
      quasi("fare", "Fare", "number", "range"),
      plain("currency", "Currency", "category"),
      id("pickupAddress", "Pickup street address"),
      id("dropoffAddress", "Drop-off street address"),
    ],
  },
  amazon: {
    kind: "amazon",
    label: "Amazon orders",
    files: "Retail.OrderHistory.*.csv, Items.csv",
    category: "commerce",
    timeField: "orderedAt",
    fields: [
      time("orderedAt", "When the order was placed", "day"),
      plain("product", "Product"),
      plain("productCategory", "Product category", "category"),
      plain("quantity", "Quantity", "number"),
      quasi("total", "Amount paid", "number", "range"),
      plain("currency", "Currency", "category"),
      id("orderId", "Order number"),
      id("asin", "Product id (ASIN/ISBN)"),
      id("shippingAddress", "Shipping address"),
      id("payment", "Payment instrument"),
    ],
  },
  airbnb: {
    kind: "airbnb",
    label: "Airbnb reservations",
    files: "reservations.csv",
    category: "commerce",
    timeField: "startDate",
    fields: [
      time("startDate", "Check-in day", "day"),
      time("endDate", "Check-out day", "day"),
      plain("nights", "Nights", "number"),
      quasi("guests", "Guests", "number", "range"),
      plain("status", "Reservation status", "category"),
      quasi("earnings", "Amount", "number", "range"),
      plain("currency", "Currency", "category"),
      id("confirmationCode", "Confirmation code"),
      id("guestName", "Guest name"),
      id("contact", "Guest contact"),
      id("listing", "Listing name"),
    ],
  },
  bank: {
    kind: "bank",
    label: "Bank statement",
    files: "any statement CSV",
    category: "finance",
    timeField: "date",
    fields: [
      time("date", "Booking day", "day"),
      quasi("amount", "Amount (negative: money out)", "number", "range"),
      plain("direction", "Money in or out", "category"),
      plain("currency", "Currency", "category"),
      id("description", "Payee and reference"),
      id("balance", "Balance after the transaction", "number"),
    ],
  },
  browsing: {
    kind: "browsing",
    label: "Browsing log (Kosmos extension)",
    files: "sent by the Kosmos browser extension",
    category: "analytics",
    timeField: "visitedAt",
    fields: [
      time("visitedAt", "When a site was visited"),
      plain("domain", "Site (domain only)"),
    ],
  },
};

/** A normalized row of an import: exactly the fields of its kind (see the module doc for values). */
export type SourceRow = Record<string, string | number | null>;

/**
 * The columns of a bank statement CSV, as detected or as confirmed by the person (column names
 * exactly as in the file's header). Either `amount` or both `debit` and `credit`.
 */
export interface BankMapping {
  date: string;
  /** e.g. `"DD.MM.YYYY"`, `"DD/MM/YYYY"`, `"MM/DD/YYYY"`, `"YYYY-MM-DD"`, `"D MMM YYYY"`. */
  dateFormat: BankDateFormat;
  amount?: string;
  debit?: string;
  credit?: string;
  description?: string;
  balance?: string;
  currency?: string;
  /** Decimal separator of amounts. */
  decimal: "." | ",";
  /** Field delimiter. */
  delimiter: "," | ";" | "\t";
}

export const BANK_DATE_FORMATS = [
  "YYYY-MM-DD",
  "DD.MM.YYYY",
  "DD/MM/YYYY",
  "MM/DD/YYYY",
  "DD-MM-YYYY",
  "D MMM YYYY",
] as const;
export type BankDateFormat = typeof BANK_DATE_FORMATS[number];

/** keccak256 preimage of a source kind's on-chain id (`source` of a consent record). */
export function sourceIdPreimage(kind: SourceKind): string {
  return `kosmos/source/${kind}`;
}
