/**
 * What My data (`web/routes/data.tsx`) shows, loaded in one go through the facade: the kinds of
 * source the node imports and the imported sources, the consents with their on-chain state, the
 * publications made from the sources with their sales, the listings this node sells, and this
 * node's wallet (it holds the consent records and sales pay it). Every read runs concurrently.
 * Consents and publications need the chain: when it cannot answer, the page still shows the rest,
 * with the reason in their section.
 *
 * ```ts
 * const data = await loadMyData(facade, { signal });
 * ```
 */
import type {
  ConsentView,
  ExtensionTokenView,
  KosmosApi,
  MyListingView,
  PublicationView,
  SourcesView,
} from "../../protocol/api/mod.ts";

/** A section that may fail on its own: its value, or why it could not be read. */
export type Section<T> = { value: T; error: null } | { value: null; error: string };

export interface MyData {
  /** Kinds the node imports (with their fields' privacy roles) and the imported sources. */
  sources: SourcesView;
  consents: Section<ConsentView[]>;
  publications: Section<PublicationView[]>;
  listings: MyListingView[];
  /** This node's wallet, or `null` when the node cannot tell. */
  wallet: string | null;
  /** The paired browser extensions. */
  extensionTokens: ExtensionTokenView[];
}

/**
 * Errors a section shows instead of failing the page: the chain is unreachable or has no Kosmos
 * contracts. Their messages are written for people; any other error fails the page (and is logged).
 */
const SPEAKING_ERRORS = new Set(["ChainUnavailableError", "TimeoutError"]);

async function section<T>(what: string, read: () => Promise<T>): Promise<Section<T>> {
  try {
    return { value: await read(), error: null };
  } catch (err) {
    const e = err as Error;
    if (!SPEAKING_ERRORS.has(e.name)) throw err;
    return { value: null, error: `Cannot show the ${what}: ${e.message}` };
  }
}

export async function loadMyData(
  facade: KosmosApi,
  { signal }: { signal?: AbortSignal } = {},
): Promise<MyData> {
  const [sources, consents, publications, listings, wallet, extension] = await Promise.all([
    facade.listSources({ signal }),
    section("consents", async () => (await facade.listConsents({ signal })).consents),
    section("publications", async () => (await facade.listPublications({ signal })).publications),
    facade.listMyListings({ signal }),
    facade.getNodeInfo({ signal }).then((info) => info.address as string, () => null),
    facade.listExtensionTokens({ signal }),
  ]);
  return { sources, consents, publications, listings, wallet, extensionTokens: extension.tokens };
}
