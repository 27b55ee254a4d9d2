/**
 * Spotify listening history, from either export: the account data's `StreamingHistory*.json`
 * (`endTime "2023-05-01 13:45"`, `artistName`, `trackName`, `msPlayed`; podcasts as `podcastName`,
 * `episodeName`) and the extended `Streaming_History_Audio_*.json` (`ts`, `ms_played`,
 * `conn_country`, `master_metadata_*`, `episode_*`, …). Podcast plays take the show as artist and the
 * episode as track. Times are UTC, as Spotify writes them.
 */
import { readJsonArray } from "./json.ts";
import { batchRows, type Fail, failAt, rowBuilder } from "./rows.ts";
import type { Importer } from "./types.ts";
import { parseTime, quote } from "./values.ts";
import type { SourceRow } from "../../../../protocol/sources.ts";

const row = rowBuilder("spotify");

function str(v: unknown): string | null {
  if (typeof v === "string") return v.trim() === "" ? null : v;
  if (typeof v === "number") return String(v);
  return null;
}

function first(...values: unknown[]): string | null {
  for (const v of values) {
    const s = str(v);
    if (s !== null) return s;
  }
  return null;
}

/** One history entry as a row; `fail` throws an ImportError for this record. */
export function spotifyRow(entry: Record<string, unknown>, fail: Fail): SourceRow {
  const extended = "ts" in entry;
  const timeKey = extended ? "ts" : "endTime";
  if (!(timeKey in entry)) fail("neither endTime nor ts: not a Spotify streaming history entry");
  const raw = entry[timeKey];
  const playedAt = typeof raw === "string" ? parseTime(raw) : undefined;
  if (playedAt == null) fail(`${timeKey} ${quote(String(raw))} is not a time`);
  const ms = extended ? entry.ms_played : entry.msPlayed;
  if (ms != null && (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0)) {
    fail(`${extended ? "ms_played" : "msPlayed"} ${quote(String(ms))} is not a duration in ms`);
  }
  if (!extended) {
    return row({
      playedAt,
      artist: first(entry.artistName, entry.podcastName),
      track: first(entry.trackName, entry.episodeName),
      msPlayed: ms as number | null ?? null,
    });
  }
  return row({
    playedAt,
    artist: first(entry.master_metadata_album_artist_name, entry.episode_show_name, entry.audiobook_title),
    track: first(entry.master_metadata_track_name, entry.episode_name, entry.audiobook_chapter_title),
    album: first(entry.master_metadata_album_album_name),
    msPlayed: ms as number | null ?? null,
    country: first(entry.conn_country),
    platform: first(entry.platform),
    username: first(entry.username),
    ipAddress: first(entry.ip_addr_decrypted, entry.ip_addr),
  });
}

async function* rows(input: ReadableStream<Uint8Array>, filename: string): AsyncGenerator<SourceRow> {
  for await (
    const { value, record } of readJsonArray(input, { filename, what: "a Spotify streaming history" })
  ) {
    const fail: Fail = failAt(filename, `record ${record}`);
    if (typeof value !== "object" || value === null || Array.isArray(value)) fail("not an object");
    yield spotifyRow(value as Record<string, unknown>, fail);
  }
}

export const spotify: Importer = {
  kind: "spotify",
  parse: (input, { filename, signal }) => batchRows(rows(input, filename), signal),
};
