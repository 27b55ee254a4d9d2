/**
 * The price and licence fields every form that puts data on sale shows (the
 * Publish form, a site's "Sell statistics" form), with the same checks the
 * API applies: a token amount with at most 18 decimals, a licence id without
 * spaces.
 */

/** A token amount such as `2.5`, named `price`. */
export function PriceField({ busy }: { busy: boolean }) {
  return (
    <label class="field">
      <span>Price</span>
      <span class="input-suffix">
        <input
          name="price"
          required
          inputMode="decimal"
          pattern="\d+(\.\d{1,18})?"
          placeholder="2.5"
          title="A token amount such as 2.5"
          disabled={busy}
        />
        <span>KOS</span>
      </span>
    </label>
  );
}

/** A licence id, named `name` (the APIs differ: `license` on publish, `licence` on releases). */
export function LicenceField({ busy, name }: { busy: boolean; name: "license" | "licence" }) {
  return (
    <label class="field">
      <span>Licence</span>
      <input
        name={name}
        required
        maxLength={64}
        pattern="\S+"
        list="licences"
        placeholder="CC-BY-4.0"
        title="A licence id without spaces"
        disabled={busy}
      />
      <datalist id="licences">
        <option value="kosmos-research-1" />
        <option value="CC-BY-4.0" />
        <option value="CC-BY-NC-4.0" />
        <option value="ODbL-1.0" />
      </datalist>
    </label>
  );
}
