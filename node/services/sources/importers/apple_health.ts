/**
 * Apple Health: the `export.xml` of the Health app's "Export All Health Data" (inside `export.zip`,
 * as `apple_health_export/export.xml`). A phone worn for years exports gigabytes, so the file is
 * streamed through saxes chunk by chunk and never held whole: memory is one input chunk, the
 * parser's state and at most one batch of rows.
 *
 * One row per measurement:
 * - `<Record>` (self-closing, or with `<MetadataEntry>`/`<HeartRateVariabilityMetadataList>`
 *   children, which are skipped): `type` without HealthKit's prefix
 *   (`HKQuantityTypeIdentifierStepCount` → `StepCount`, `HKCategoryTypeIdentifierSleepAnalysis` →
 *   `SleepAnalysis`), `value` the number (required for quantities, where a non-number is an error),
 *   or for categories HealthKit's code of the category value (`HKCategoryValueSleepAnalysisInBed`
 *   → 0, `…AsleepUnspecified`/`…Asleep` → 1, `…Awake` → 2, `…AsleepCore` → 3, `…AsleepDeep` → 4,
 *   `…AsleepREM` → 5; see {@link CATEGORY_VALUES}; `null` for `HKCategoryValueNotApplicable` and
 *   values it does not know), `unit` as exported (`null` for categories), `durationS` = end − start.
 * - `<Workout>`: `type` `Workout:<activity>` (`HKWorkoutActivityTypeRunning` → `Workout:Running`),
 *   `value` the distance covered (`totalDistance`, or in exports since iOS 16 the `sum` of its
 *   `Distance…` `<WorkoutStatistics>`), `unit` its unit, both `null` for a workout without a
 *   distance (yoga); its length is `durationS`, like every row's.
 * - `<Record>`s inside a `<Correlation>` (blood pressure, food) are skipped: the export also lists
 *   each of them at the top level, so they count once. `<ExportDate>`, `<Me>` (birth date, sex,
 *   blood type: never read), `<ActivitySummary>`, `<ClinicalRecord>`, `<Audiogram>` are skipped.
 *
 * Dates are the export's `2019-03-05 08:12:44 +0100` in every locale (`de_DE` exports included),
 * stored as ms since the epoch. A file that is not XML, whose root is not `<HealthData>` (the
 * `export_cda.xml` beside it is the clinical-document export), malformed XML, a bad date or a
 * non-numeric quantity gets an {@link ImportError} naming the file and the line.
 *
 * ```ts
 * for await (const rows of appleHealth.parse(file.readable, { filename: "export.xml" })) store(rows);
 * ```
 */
import { SaxesParser, type SaxesTagPlain } from "saxes";
import type { SourceRow } from "../../../../protocol/sources.ts";
import { type ImportContext, type Importer, ImportError, MAX_BATCH } from "./types.ts";

/** Characters handed to the parser at once: a big input chunk is split so batches stay small. */
const WRITE_CHARS = 64 * 1024;
/**
 * Most characters between two tags (the DOCTYPE of a real export is about 10 KiB): the parser
 * holds an unfinished tag, attribute or DOCTYPE in memory, so a file that never closes one would
 * otherwise grow it without end.
 */
export const MAX_ELEMENT_CHARS = 4 * 1024 * 1024;
/** Distinct type names whose short form is remembered (an export has a few dozen). */
const MAX_TYPES_CACHED = 10_000;

/** HealthKit's codes of the category values an export names (`HKCategoryValue…` → number). */
export const CATEGORY_VALUES: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries({
    SleepAnalysis: {
      InBed: 0,
      Asleep: 1,
      AsleepUnspecified: 1,
      Awake: 2,
      AsleepCore: 3,
      AsleepDeep: 4,
      AsleepREM: 5,
    },
    AppleStandHour: { Stood: 0, Idle: 1 },
    Severity: { Unspecified: 0, NotPresent: 1, Mild: 2, Moderate: 3, Severe: 4 },
    Presence: { Present: 0, NotPresent: 1 },
    AppetiteChanges: { Unspecified: 0, NoChange: 1, Decreased: 2, Increased: 3 },
    MenstrualFlow: { Unspecified: 1, Light: 2, Medium: 3, Heavy: 4, None: 5 },
    CervicalMucusQuality: { Dry: 1, Sticky: 2, Creamy: 3, Watery: 4, EggWhite: 5 },
    OvulationTestResult: {
      Negative: 1,
      LuteinizingHormoneSurge: 2,
      Positive: 2,
      Indeterminate: 3,
      EstrogenSurge: 4,
    },
    EnvironmentalAudioExposureEvent: { MomentaryLimit: 1 },
    HeadphoneAudioExposureEvent: { SevenDayLimit: 1 },
    LowCardioFitnessEvent: { LowFitness: 1 },
  }).flatMap(([group, values]) =>
    Object.entries(values).map(([name, code]) => [`HKCategoryValue${group}${name}`, code] as const)
  ),
);

const TYPE_PREFIXES = ["HKQuantityTypeIdentifier", "HKCategoryTypeIdentifier", "HKDataType"];
const WORKOUT_PREFIX = "HKWorkoutActivityType";
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** `2019-03-05 08:12:44 +0100` (also tolerated: a `T`, fractions of a second, `+01:00`, `Z`). */
const DATE = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.\d+)? ?(?:([+-])(\d\d):?(\d\d)|Z)$/;

export const appleHealth: Importer = {
  kind: "apple-health",
  parse: parseAppleHealth,
};

async function* parseAppleHealth(
  input: ReadableStream<Uint8Array>,
  context: ImportContext,
): AsyncGenerator<SourceRow[]> {
  const { filename, signal } = context;
  const rows = new HealthRows(filename);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const reader = input.getReader();
  let done = false;
  let first = true;
  try {
    while (true) {
      signal?.throwIfAborted();
      const read = await reader.read();
      if (read.done) {
        done = true;
        break;
      }
      const bytes = read.value;
      if (first && bytes.byteLength > 0) {
        first = false;
        if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) {
          throw new ImportError(
            filename,
            "line 1",
            "is a zip archive, not an Apple Health export.xml: unzip it and import apple_health_export/export.xml",
          );
        }
      }
      let text: string;
      try {
        text = decoder.decode(bytes, { stream: true });
      } catch {
        throw rows.error("is not UTF-8 text");
      }
      for (let at = 0; at < text.length; at += WRITE_CHARS) {
        rows.write(text.length <= WRITE_CHARS ? text : text.slice(at, at + WRITE_CHARS));
        yield* rows.takeFull();
      }
    }
    try {
      rows.write(decoder.decode());
    } catch {
      throw rows.error("ends in the middle of a character: the file is truncated");
    }
    rows.end();
    yield* rows.takeFull();
    const rest = rows.takeRest();
    if (rest.length > 0) yield rest;
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** The parser and the rows it produced that were not yet yielded. */
class HealthRows {
  readonly #filename: string;
  readonly #parser = new SaxesParser<{ xmlns: false; position: true }>({ xmlns: false, position: true });
  #root: string | undefined;
  #batch: SourceRow[] = [];
  #full: SourceRow[][] = [];
  /** Open `<Correlation>` elements: their `<Record>`s are listed again at the top level. */
  #inCorrelation = 0;
  #workout: { row: SourceRow; hasDistance: boolean } | undefined;
  readonly #types = new Map<string, string>();
  /** Characters written since the last tag ended. */
  #sinceTag = 0;

  constructor(filename: string) {
    this.#filename = filename;
    this.#parser.on("opentag", (tag) => this.#open(tag));
    this.#parser.on("closetag", (tag) => this.#close(tag));
  }

  write(text: string): void {
    try {
      this.#parser.write(text);
    } catch (err) {
      throw this.#xmlError(err);
    }
    this.#sinceTag += text.length;
    if (this.#sinceTag > MAX_ELEMENT_CHARS) {
      throw this.error(
        `not an Apple Health export.xml: more than ${MAX_ELEMENT_CHARS} characters in one tag`,
      );
    }
  }

  end(): void {
    try {
      this.#parser.close();
    } catch (err) {
      const error = this.#xmlError(err);
      if (error instanceof ImportError && this.#root !== undefined) {
        throw this.error(
          `the file ends inside the document (truncated?): ${
            (err as Error).message.replace(/^\d+:\d+: /, "")
          }`,
        );
      }
      throw error;
    }
  }

  /** Batches of exactly {@link MAX_BATCH} rows, taken. */
  takeFull(): SourceRow[][] {
    const full = this.#full;
    if (full.length > 0) this.#full = [];
    return full;
  }

  /** The last, partial batch, taken. */
  takeRest(): SourceRow[] {
    const rest = this.#batch;
    this.#batch = [];
    return rest;
  }

  error(detail: string): ImportError {
    return new ImportError(this.#filename, `line ${this.#parser.line}`, detail);
  }

  #xmlError(err: unknown): unknown {
    if (err instanceof ImportError || !(err instanceof Error)) return err;
    const message = err.message.replace(/^\d+:\d+: /, "");
    if (this.#root === undefined) return this.error(`not an Apple Health export.xml (${message})`);
    return this.error(`malformed XML: ${message}`);
  }

  #push(row: SourceRow): void {
    this.#batch.push(row);
    if (this.#batch.length === MAX_BATCH) {
      this.#full.push(this.#batch);
      this.#batch = [];
    }
  }

  #open(tag: SaxesTagPlain): void {
    this.#sinceTag = 0;
    const attributes = tag.attributes as Record<string, string>;
    switch (tag.name) {
      case "Record":
        if (this.#inCorrelation === 0) this.#push(this.#record(attributes));
        return;
      case "Workout":
        this.#workout = this.#startWorkout(attributes);
        return;
      case "WorkoutStatistics":
        if (this.#workout && !this.#workout.hasDistance) this.#addStatistics(attributes);
        return;
      case "Correlation":
        this.#inCorrelation++;
        return;
    }
    if (this.#root === undefined) {
      this.#root = tag.name;
      if (tag.name === "ClinicalDocument") {
        throw this.error(
          "not an Apple Health export.xml: this is the clinical-document export (export_cda.xml); " +
            "import export.xml from the same folder",
        );
      }
      if (tag.name !== "HealthData") {
        throw this.error(
          `not an Apple Health export.xml: its root element is <${tag.name}>, not <HealthData>`,
        );
      }
    }
  }

  #close(tag: SaxesTagPlain): void {
    this.#sinceTag = 0;
    if (tag.name === "Workout" && this.#workout) {
      this.#push(this.#workout.row);
      this.#workout = undefined;
    } else if (tag.name === "Correlation") {
      this.#inCorrelation--;
    }
  }

  #record(a: Record<string, string>): SourceRow {
    this.#checkRoot("Record");
    const rawType = this.#required(a, "type", "Record");
    const startAt = this.#date(a, "startDate");
    const durationS = this.#duration(startAt, this.#date(a, "endDate"));
    const unit = a.unit ?? null;
    const raw = a.value;
    let value: number | null = null;
    if (rawType.startsWith("HKCategoryTypeIdentifier")) {
      if (raw !== undefined) value = NUMBER.test(raw) ? Number(raw) : CATEGORY_VALUES[raw] ?? null;
    } else if (raw !== undefined) {
      if (NUMBER.test(raw)) value = Number(raw);
      else if (rawType.startsWith("HKQuantityTypeIdentifier") || unit !== null) {
        throw this.error(`${rawType} value ${JSON.stringify(raw.slice(0, 40))} is not a number`);
      }
    }
    return { startAt, type: this.#type(rawType), value, unit, durationS, device: a.sourceName ?? null };
  }

  #startWorkout(a: Record<string, string>): { row: SourceRow; hasDistance: boolean } {
    this.#checkRoot("Workout");
    const activity = this.#required(a, "workoutActivityType", "Workout");
    const startAt = this.#date(a, "startDate");
    const durationS = this.#duration(startAt, this.#date(a, "endDate"));
    const distance = a.totalDistance;
    const hasDistance = distance !== undefined && distance !== "";
    const row: SourceRow = {
      startAt,
      type: this.#type(activity, WORKOUT_PREFIX, "Workout:"),
      value: hasDistance ? this.#number(distance, "Workout totalDistance") : null,
      unit: hasDistance ? a.totalDistanceUnit ?? null : null,
      durationS,
      device: a.sourceName ?? null,
    };
    return { row, hasDistance };
  }

  /** Exports since iOS 16 give a workout's distance as a `<WorkoutStatistics type="…Distance…" sum=…>`. */
  #addStatistics(a: Record<string, string>): void {
    const workout = this.#workout!;
    if (!a.type?.startsWith("HKQuantityTypeIdentifierDistance") || a.sum === undefined) return;
    workout.row.value = this.#number(a.sum, "WorkoutStatistics sum");
    workout.row.unit = a.unit ?? null;
    workout.hasDistance = true;
  }

  #checkRoot(element: string): void {
    if (this.#root !== "HealthData") {
      throw this.error(`not an Apple Health export.xml: <${element}> outside <HealthData>`);
    }
  }

  #required(a: Record<string, string>, name: string, element: string): string {
    const value = a[name];
    if (value === undefined || value === "") throw this.error(`<${element}> has no ${name}`);
    return value;
  }

  #number(raw: string, what: string): number {
    if (!NUMBER.test(raw)) throw this.error(`${what} ${JSON.stringify(raw.slice(0, 40))} is not a number`);
    return Number(raw);
  }

  #date(a: Record<string, string>, name: string): number {
    const raw = a[name];
    if (raw === undefined) throw this.error(`a measurement has no ${name}`);
    const ms = parseDate(raw);
    if (Number.isNaN(ms)) {
      throw this.error(
        `${name} ${JSON.stringify(raw.slice(0, 40))} is not a date like 2019-03-05 08:12:44 +0100`,
      );
    }
    return ms;
  }

  #duration(startAt: number, endAt: number): number {
    if (endAt < startAt) throw this.error("endDate is before startDate");
    return (endAt - startAt) / 1000;
  }

  /** The short name of a type, computed once per distinct type (an export has a few dozen). */
  #type(raw: string, prefix?: string, replacement = ""): string {
    let short = this.#types.get(raw);
    if (short === undefined) {
      const strip = prefix !== undefined ? [prefix] : TYPE_PREFIXES;
      const found = strip.find((p) => raw.startsWith(p) && raw.length > p.length);
      short = replacement + (found ? raw.slice(found.length) : raw);
      if (this.#types.size < MAX_TYPES_CACHED) this.#types.set(raw, short);
    }
    return short;
  }
}

/**
 * ms since the epoch of an export date, NaN when it is none. The form every export writes
 * (`2019-03-05 08:12:44 +0100`) is read digit by digit, allocating nothing (two dates a row, millions
 * of rows); the variants go through {@link DATE}.
 */
function parseDate(raw: string): number {
  if (
    raw.length === 25 && raw.charCodeAt(4) === 45 && raw.charCodeAt(7) === 45 && raw.charCodeAt(10) === 32 &&
    raw.charCodeAt(13) === 58 && raw.charCodeAt(16) === 58 && raw.charCodeAt(19) === 32
  ) {
    const sign = raw.charCodeAt(20);
    if (sign !== 43 && sign !== 45) return NaN;
    return utcMs(
      digits(raw, 0, 4),
      digits(raw, 5, 2),
      digits(raw, 8, 2),
      digits(raw, 11, 2),
      digits(raw, 14, 2),
      digits(raw, 17, 2),
      (sign === 45 ? -1 : 1) * (digits(raw, 21, 2) * 60 + digits(raw, 23, 2)),
      digits(raw, 23, 2),
    );
  }
  const m = DATE.exec(raw);
  if (!m) return NaN;
  const offset = m[7] === undefined ? 0 : (m[7] === "-" ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  return utcMs(+m[1], +m[2], +m[3], +m[4], +m[5], +m[6], offset, m[9] === undefined ? 0 : Number(m[9]));
}

/** The number written by `length` ASCII digits of `s` from `at`; NaN when one is not a digit. */
function digits(s: string, at: number, length: number): number {
  let n = 0;
  for (let i = at; i < at + length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

/** ms since the epoch of a local time and its UTC offset in minutes; NaN when a field is out of range. */
function utcMs(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  offset: number,
  offsetMinutes: number,
): number {
  if (
    !(month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month) && hour <= 23 && minute <= 59 &&
      second <= 59 && Math.abs(offset) <= 14 * 60 && offsetMinutes <= 59)
  ) return NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second) - offset * 60_000;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
