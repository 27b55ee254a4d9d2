/**
 * Island: the browser extension on My data. "Pair the browser extension" asks the node for a
 * one-time code (`POST /api/v1/extension/pairings`) and shows it with its expiry and what to do
 * with it; the paired extensions are listed (`GET /api/v1/extension/tokens`, never their tokens),
 * each with "Revoke" (`DELETE /api/v1/extension/tokens/:id`), which stops it at once.
 */
import { useSignal } from "@preact/signals";
import type { ExtensionTokenView, PairingView } from "../../protocol/api/extension.ts";
import { formatDay } from "../format.ts";
import { requestJson } from "../island_fetch.ts";
import { sendEmpty } from "../components/source_card.tsx";

export interface ExtensionPairingProps {
  tokens: ExtensionTokenView[];
  /** Why the list could not be read, if it could not. */
  error: string | null;
}

export function ExtensionPairing(props: ExtensionPairingProps) {
  const tokens = useSignal(props.tokens);
  const pairing = useSignal<PairingView | null>(null);
  const busy = useSignal(false);
  const error = useSignal<string | null>(props.error);

  const refresh = async () => {
    tokens.value = (await requestJson<{ tokens: ExtensionTokenView[] }>("/api/v1/extension/tokens")).tokens;
  };
  const run = async (step: () => Promise<void>) => {
    busy.value = true;
    error.value = null;
    try {
      await step();
    } catch (err) {
      error.value = (err as Error).message;
    } finally {
      busy.value = false;
    }
  };

  const p = pairing.value;
  return (
    <div class="card extension-pairing" data-testid="extension-pairing">
      <p class="muted">
        The Kosmos browser extension records the sites you visit (domain and time, never incognito), shows you
        what it would share, and sends it to this node only while you hold a valid consent for the browsing
        log. Pair it with a code: type the code and this node's address in the extension's options.
      </p>
      <div class="form-actions">
        <button
          type="button"
          class="button"
          disabled={busy.value}
          data-testid="extension-pair"
          onClick={() =>
            void run(async () => {
              pairing.value = await requestJson<PairingView>("/api/v1/extension/pairings", {
                method: "POST",
              });
            })}
        >
          Pair the browser extension
        </button>
      </div>
      {p && (
        <p aria-live="polite">
          Pairing code <strong class="pairing-code" data-testid="extension-code">{p.code}</strong>{" "}
          <span class="muted-inline">
            · works once, until {formatDay(p.expiresAt)}; node address {globalThis.location?.origin}
          </span>
        </p>
      )}
      {error.value && <p class="form-error" role="alert">{error.value}</p>}
      {tokens.value.length === 0
        ? <p class="muted" data-testid="extension-none">No extension paired.</p>
        : (
          <ul class="plain-list" data-testid="extension-tokens">
            {tokens.value.map((t) => (
              <li key={t.id} data-token-id={t.id}>
                Paired {formatDay(t.createdAt)}, last seen{" "}
                {t.lastUsedAt === null ? "never" : formatDay(t.lastUsedAt)}{" "}
                <button
                  type="button"
                  class="button button-secondary"
                  disabled={busy.value}
                  data-testid="extension-revoke"
                  onClick={() =>
                    void run(async () => {
                      await sendEmpty(`/api/v1/extension/tokens/${encodeURIComponent(t.id)}`, "DELETE");
                      await refresh();
                    })}
                >
                  Revoke
                </button>
              </li>
            ))}
          </ul>
        )}
    </div>
  );
}
