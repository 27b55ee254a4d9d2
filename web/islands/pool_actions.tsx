/**
 * Island: what this node can do with one pool on the Pools page. A contributor joins with one of its
 * valid consents for the pool's kind and purpose (`POST /api/v1/pools/:id/join`; joining signs no
 * transaction) or leaves (`POST /api/v1/pools/:id/leave`); the operator publishes a version
 * (`POST /api/v1/pools/:id/versions`, previewed with its fee first) and sees who was left out and why.
 */
import { useSignal } from "@preact/signals";
import type { PoolView, PublishedPoolVersion } from "../../protocol/api/pools.ts";
import { requestJson } from "../island_fetch.ts";
import { FeeConfirm, useFeeConfirm } from "./confirm_fee.tsx";

export interface PoolActionsProps {
  pool: Pick<PoolView, "id" | "role" | "kind" | "purpose">;
  /** This wallet's valid consents for the pool's kind and purpose. */
  consents: { id: string; expiresAt: number }[];
}

export function PoolActions(props: PoolActionsProps) {
  const role = useSignal(props.pool.role);
  const consentId = useSignal(props.consents[0]?.id ?? "");
  const busy = useSignal(false);
  const status = useSignal<{ state: "done" | "error"; message: string } | null>(null);
  const publish = useFeeConfirm<PublishedPoolVersion>();
  const base = `/api/v1/pools/${encodeURIComponent(props.pool.id)}`;

  const send = async (path: string, body: unknown, done: (pool: PoolView) => string) => {
    busy.value = true;
    status.value = null;
    try {
      const pool = await requestJson<PoolView>(`${base}/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      role.value = pool.role;
      status.value = { state: "done", message: done(pool) };
    } catch (err) {
      status.value = { state: "error", message: (err as Error).message };
    } finally {
      busy.value = false;
    }
  };

  const startPublish = () => {
    status.value = null;
    void publish.request({ url: `${base}/versions`, body: {} }, {
      onDone: (v) => {
        const left = v.excluded.map((e) => `${e.address.slice(0, 10)}… (${e.reason})`).join("; ");
        status.value = {
          state: "done",
          message:
            `Version ${v.listingId} published: ${v.rows} rows of ${v.contributors.length} contributors` +
            (left ? `; left out: ${left}` : ""),
        };
      },
      onError: (message) => (status.value = { state: "error", message }),
    });
  };

  return (
    <div
      class="pool-actions"
      data-testid="pool-actions"
      data-pool={props.pool.id}
      data-role={role.value ?? ""}
    >
      {role.value === "operator" && (
        <button
          type="button"
          class="button"
          disabled={publish.busy}
          onClick={startPublish}
          data-testid="pool-publish"
        >
          Publish a version…
        </button>
      )}
      {role.value === null && (props.consents.length === 0
        ? (
          <p class="muted" data-testid="pool-no-consent">
            To join, grant consent for {props.pool.kind} for “{props.pool.purpose}” on My data.
          </p>
        )
        : (
          <span class="inline-form">
            <select
              value={consentId.value}
              disabled={busy.value}
              onChange={(e) => (consentId.value = e.currentTarget.value)}
              aria-label="Consent to join with"
              data-testid="pool-consent"
            >
              {props.consents.map((c) => <option key={c.id} value={c.id}>Consent #{c.id}</option>)}
            </select>{" "}
            <button
              type="button"
              class="button"
              disabled={busy.value}
              onClick={() => send("join", { consentId: consentId.value }, (p) => `Joined pool ${p.id}.`)}
              data-testid="pool-join"
            >
              Join
            </button>
          </span>
        ))}
      {role.value === "member" && (
        <button
          type="button"
          class="button button-secondary"
          disabled={busy.value}
          onClick={() => send("leave", {}, (p) => `Left pool ${p.id}.`)}
          data-testid="pool-leave"
        >
          Leave
        </button>
      )}
      <div aria-live="polite">
        <FeeConfirm
          fee={publish}
          confirmLabel="Publish"
          what="List, stake and register a version of the pool"
        />
        {status.value && (
          <p
            class={status.value.state === "done" ? "muted" : "form-error"}
            role={status.value.state === "error" ? "alert" : undefined}
            data-testid="pool-status"
          >
            {status.value.message}
          </p>
        )}
      </div>
    </div>
  );
}
