/**
 * Island: the sources of My data: the import form ({@link SourceImport}, with the bank statement's
 * column mapping) and one {@link SourceCard} per imported export, each with the consents of its
 * kind and their state, the publications holding its rows and their sales, its preview of what
 * would be shared and its deletion (consents follow the consent island's `kosmos:consents` event). After an import or a deletion it reads `GET /api/v1/sources`
 * again and announces the new list to the publish island as a `kosmos:sources` event on `window`.
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { SourcesView, SourceView } from "../../protocol/api/sources.ts";
import type { SourceKindInfo } from "../../protocol/sources.ts";
import type { ConsentView } from "../../protocol/api/consents.ts";
import { type PublicationSummary, SourceCard } from "../components/source_card.tsx";
import { SourceImport } from "../components/source_import.tsx";
import { requestJson } from "../island_fetch.ts";
import { CONSENTS_EVENT } from "./data_consents.tsx";

export interface DataSourcesProps {
  kinds: SourceKindInfo[];
  sources: SourceView[];
  consents: ConsentView[];
  publications: PublicationSummary[];
}

/** The name of the `window` event carrying the current sources after an import or a deletion. */
export const SOURCES_EVENT = "kosmos:sources";

export function DataSources(props: DataSourcesProps) {
  const sources = useSignal(props.sources);
  const consents = useSignal(props.consents);
  const error = useSignal<string | null>(null);

  useEffect(() => {
    const onConsents = (e: Event) => (consents.value = (e as CustomEvent<ConsentView[]>).detail);
    globalThis.addEventListener(CONSENTS_EVENT, onConsents);
    return () => globalThis.removeEventListener(CONSENTS_EVENT, onConsents);
  }, []);

  const refresh = async () => {
    try {
      const view = await requestJson<SourcesView>("/api/v1/sources");
      sources.value = view.sources;
      error.value = null;
      globalThis.dispatchEvent(new CustomEvent(SOURCES_EVENT, { detail: view.sources }));
    } catch (err) {
      error.value = `Cannot list the sources again: ${(err as Error).message}`;
    }
  };

  return (
    <div class="data-sources" data-testid="sources">
      <SourceImport kinds={props.kinds} onImported={refresh} />
      {error.value && <p class="form-error" role="alert">{error.value}</p>}
      {sources.value.length === 0
        ? (
          <p class="muted" data-testid="no-sources">
            No export imported yet. Ask a service for your data (Spotify, Netflix, Google Takeout, Apple
            Health, Uber, Amazon, Airbnb, your bank) and import the file it sends you.
          </p>
        )
        : sources.value.map((s) => (
          <SourceCard
            key={s.id}
            source={s}
            info={props.kinds.find((k) => k.kind === s.kind)}
            consents={consents.value.filter((c) => c.kind === s.kind)}
            publications={props.publications.filter((p) => p.kinds.includes(s.kind))}
            onDeleted={refresh}
          />
        ))}
    </div>
  );
}
