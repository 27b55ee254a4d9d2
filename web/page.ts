/**
 * What a page module in `web/routes/*.tsx` exports: its path, its title, an
 * optional `load()` that gathers data through the facade, and the component
 * that renders that data inside the layout.
 *
 * ```tsx
 * export const walletPage = definePage({
 *   path: "/wallet",
 *   title: "Wallet",
 *   description: "Balances of this node's wallet.",
 *   load: ({ facade, signal }) => facade.getNodeInfo({ signal }),
 *   Page: ({ data }) => <p>{data.address}</p>,
 * });
 * ```
 */
import type { FunctionComponent } from "preact";
import type { KosmosApi } from "../protocol/api/mod.ts";

export interface PageContext {
  facade: KosmosApi;
  url: URL;
  /** Where others reach this node: its public URL (`--public-url`), else `url`'s origin. */
  origin: string;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

export interface PageProps<D> {
  data: D;
  url: URL;
}

export interface PageDefinition<D> {
  path: string;
  /** Shown as the heading and in the document title. */
  title: string;
  /** One sentence under the heading. */
  description: string;
  load?: (ctx: PageContext) => Promise<D>;
  Page: FunctionComponent<PageProps<D>>;
}

/** Identity helper that types a page definition. */
export function definePage<D = undefined>(page: PageDefinition<D>): PageDefinition<D> {
  return page;
}
