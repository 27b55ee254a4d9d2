/**
 * The contributor's sources and publications (`SourcesApi`) over the sources service: imports,
 * their anonymized previews, and publications joined with their sales from the market's store.
 * Only maps; the logic is the service's.
 */
import type { PublicationView, SourcesApi, SourceView } from "../../protocol/api/sources.ts";
import type { MySalesSummary } from "../../protocol/api/my_data.ts";
import { SOURCE_KIND_INFO, SOURCE_KINDS } from "../../protocol/sources.ts";
import type { Market } from "../services/market/mod.ts";
import {
  checkKind,
  type PublicationRecord,
  type SourceRecord,
  type Sources,
} from "../services/sources/mod.ts";
import { toFeeView } from "./fees.ts";
import { summarizeSales } from "./my_data.ts";

export interface SourcesApiComponents {
  sources: Sources;
  market: Market;
}

const NO_SALES: MySalesSummary = { count: 0, complete: 0, open: 0, revenue: "0" };

export function createSourcesApi(c: SourcesApiComponents): SourcesApi {
  const { sources } = c;
  return {
    async importSource(kind, file, options = {}) {
      checkKind(kind);
      const source = await sources.importFile(kind, file.stream, {
        filename: file.filename,
        mapping: options.mapping,
        signal: options.signal,
      });
      return {
        id: source.id,
        kind: source.kind,
        rows: source.rows,
        ...(source.mapping && { mapping: source.mapping }),
      };
    },

    listSources() {
      return Promise.resolve({
        kinds: SOURCE_KINDS.map((kind) => SOURCE_KIND_INFO[kind]),
        sources: sources.list().map(toSourceView),
      });
    },

    detectBankLayout(stream, options = {}) {
      return sources.detectBankLayout(stream, options);
    },

    previewSource(id, options = {}) {
      return Promise.resolve(sources.previewSource(id, { k: options.k }));
    },

    deleteSource(id) {
      sources.delete(id);
      return Promise.resolve();
    },

    async createPublication(fields, options = {}) {
      const record = await sources.publish(fields, options);
      return toPublicationView(record, NO_SALES);
    },

    async previewPublication(fields, options = {}) {
      const preview = await sources.previewPublish(fields, options);
      return { preview: true, fee: toFeeView(preview.fee), kinds: preview.kinds, excluded: preview.excluded };
    },

    async listPublications() {
      const records = sources.listPublications();
      const sales = records.length ? await summarizeSales(c.market) : new Map<string, MySalesSummary>();
      return {
        publications: records.map((r) => toPublicationView(r, sales.get(r.manifestCid) ?? NO_SALES)),
      };
    },
  };
}

function toSourceView(s: SourceRecord): SourceView {
  return {
    id: s.id,
    kind: s.kind,
    filename: s.filename,
    rows: s.rows,
    importedAt: s.importedAt,
    from: s.from,
    to: s.to,
    ...(s.mapping && { mapping: s.mapping }),
  };
}

function toPublicationView(r: PublicationRecord, sales: MySalesSummary): PublicationView {
  return {
    id: r.id,
    manifestCid: r.manifestCid,
    title: r.title,
    purpose: r.purpose,
    kinds: r.kinds,
    excluded: r.excluded,
    consentIds: r.consentIds,
    rows: r.rows,
    privacy: r.privacy,
    ownershipTokenId: r.ownershipTokenId,
    createdAt: r.createdAt,
    sales,
  };
}
