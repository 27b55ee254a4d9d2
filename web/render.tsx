/**
 * Turns a page into a full HTML document: renders the page body with Preact
 * (recording the islands it uses), then the layout around it, pointing at the
 * hashed client files from the build manifest.
 */
import type { ComponentChildren } from "preact";
import { renderToString } from "preact-render-to-string";
import type { ClientManifest } from "./build.ts";
import { type IslandCollector, IslandsContext } from "./components/island.tsx";
import { Layout } from "./components/layout.tsx";

/** URL prefix under which the build directory is served. */
export const buildUrlPrefix = "/static/build/";

export interface RenderDocumentOptions {
  title: string;
  description?: string;
  path: string;
  manifest: ClientManifest;
  /** Show the arbiter's pages in the navigation. @default false */
  arbiter?: boolean;
}

/** Renders `body` inside the layout and returns the document, doctype included. */
export function renderDocument(body: ComponentChildren, options: RenderDocumentOptions): string {
  const collector: IslandCollector = { used: new Set() };
  const html = renderToString(<IslandsContext.Provider value={collector}>{body}</IslandsContext.Provider>);
  const { manifest } = options;
  const hasIslands = collector.used.size > 0;
  const preload = new Set<string>();
  if (hasIslands) {
    const addWithImports = (file: string | undefined) => {
      if (!file || preload.has(file)) return;
      preload.add(file);
      for (const dep of manifest.imports[file] ?? []) addWithImports(dep);
    };
    for (const name of collector.used) addWithImports(manifest.islands[name]);
    for (const dep of manifest.imports[manifest.entry] ?? []) addWithImports(dep);
  }
  const document = renderToString(
    <Layout
      title={options.title}
      description={options.description}
      path={options.path}
      arbiter={options.arbiter}
      html={html}
      assets={{
        style: buildUrlPrefix + manifest.style,
        client: hasIslands ? buildUrlPrefix + manifest.entry : undefined,
        preload: [...preload].map((file) => buildUrlPrefix + file),
      }}
    />,
  );
  return "<!doctype html>" + document;
}
