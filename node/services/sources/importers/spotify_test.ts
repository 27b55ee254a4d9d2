import assert from "node:assert/strict";
import { SOURCE_KIND_INFO } from "../../../../protocol/sources.ts";
import { importFailure, importFixture } from "./testing.ts";

const FIELDS = SOURCE_KIND_INFO.spotify.fields.map((f) => f.name);

Deno.test("spotify.parse() reads the extended history: music and podcast plays, exactly the kind's fields", async () => {
  const rows = await importFixture("spotify", "spotify/Streaming_History_Audio_2023_0.json");
  assert.equal(rows.length, 324);
  assert.deepEqual(Object.keys(rows[0]), FIELDS);
  assert.deepEqual(rows[0], {
    playedAt: Date.UTC(2023, 4, 1, 8, 4, 48),
    artist: "Massive Attack",
    track: "Teardrop",
    album: "Mezzanine",
    msPlayed: 207601,
    country: "DE",
    platform: "android",
    username: "listener42",
    ipAddress: "84.153.12.7",
  });
  // A podcast: the show as artist, the episode as track, no album.
  assert.deepEqual(rows[5], {
    playedAt: Date.UTC(2023, 4, 1, 8, 35, 24),
    artist: "Lage der Nation",
    track: "LdN 331",
    album: null,
    msPlayed: 221592,
    country: "DE",
    platform: "android",
    username: "listener42",
    ipAddress: "84.153.12.7",
  });
  assert.deepEqual(rows[323], {
    playedAt: Date.UTC(2023, 4, 3, 19, 53, 59),
    artist: "Nina Simone",
    track: "Trouble in Mind",
    album: "Pastel Blues",
    msPlayed: 202529,
    country: "FR",
    platform: "android",
    username: "listener42",
    ipAddress: "91.162.3.44",
  });
  assert.deepEqual(new Set(rows.map((r) => r.country)), new Set(["DE", "FR"]));
});

Deno.test("spotify.parse() reads the account data's music and podcast histories", async () => {
  const music = await importFixture("spotify", "spotify/StreamingHistory_music_0.json");
  assert.equal(music.length, 60);
  assert.deepEqual(music[0], {
    playedAt: Date.UTC(2023, 4, 1, 8, 4),
    artist: "Björk",
    track: "Hunter",
    album: null,
    msPlayed: 276213,
    country: null,
    platform: null,
    username: null,
    ipAddress: null,
  });
  const podcasts = await importFixture("spotify", "spotify/StreamingHistory_podcast_0.json");
  assert.equal(podcasts.length, 12);
  assert.deepEqual(
    [podcasts[0].playedAt, podcasts[0].artist, podcasts[0].track, podcasts[0].msPlayed],
    [Date.UTC(2023, 4, 1, 8, 33), "Lage der Nation", "LdN 331", 2736389],
  );
});

Deno.test("spotify.parse() names the file and record of a bad time, a cut file, and rejects a wrong or empty one", async () => {
  const cases: [string, string][] = [
    [
      "StreamingHistory_bad_date.json",
      'StreamingHistory_bad_date.json record 3: endTime "yesterday" is not a time',
    ],
    [
      "StreamingHistory_truncated.json",
      "StreamingHistory_truncated.json record 37: the file ends in the middle of a record (is it cut short?)",
    ],
    ["wrong_kind.json", "wrong_kind.json: not a Spotify streaming history: expected a JSON array"],
    ["empty.json", "empty.json: the file is empty: expected a Spotify streaming history"],
  ];
  for (const [file, message] of cases) {
    assert.equal((await importFailure("spotify", `spotify/${file}`)).message, message);
  }
});
