/**
 * The "for N minutes | hours | days" inputs of the stream subscribe and renew forms, and the seconds they
 * stand for.
 *
 * ```tsx
 * <DurationFields label="For" amount={amount} unit={unit} disabled={busy} testId="subscribe" />
 * const seconds = durationSeconds(amount.value, unit.value); // NaN when the amount is not a number
 * ```
 */
import type { Signal } from "@preact/signals";

export const DURATION_UNITS = { minutes: 60, hours: 3600, days: 86_400 } as const;
export type DurationUnit = keyof typeof DURATION_UNITS;

/** Whole seconds of `amount` `unit`s (rounded), or NaN for an amount that is not a number. */
export function durationSeconds(amount: string, unit: DurationUnit): number {
  const n = Number(amount);
  return Number.isFinite(n) ? Math.round(n * DURATION_UNITS[unit]) : NaN;
}

export function DurationFields(props: {
  label: string;
  amount: Signal<string>;
  unit: Signal<DurationUnit>;
  disabled: boolean;
  /** Prefix of the inputs' `data-testid`s (`<prefix>-amount`, `<prefix>-unit`). */
  testId: string;
}) {
  const { amount, unit, disabled, testId } = props;
  return (
    <>
      <label class="field">
        <span>{props.label}</span>
        <input
          name="amount"
          inputMode="decimal"
          value={amount.value}
          disabled={disabled}
          onInput={(e) => (amount.value = e.currentTarget.value)}
          data-testid={`${testId}-amount`}
        />
      </label>
      <label class="field">
        <span>Unit</span>
        <select
          name="unit"
          value={unit.value}
          disabled={disabled}
          onChange={(e) => (unit.value = e.currentTarget.value as DurationUnit)}
          data-testid={`${testId}-unit`}
        >
          {Object.keys(DURATION_UNITS).map((u) => <option key={u} value={u}>{u}</option>)}
        </select>
      </label>
    </>
  );
}
