import assert from "node:assert/strict";
import { CATEGORIES, type Category } from "./manifest.ts";
import {
  announcementTopic,
  announcementTopics,
  CATALOG_SYNC_PROTOCOL,
  CHUNKS_PROTOCOL,
  parseAnnouncementTopic,
  SALE_PROTOCOL,
} from "./topics.ts";

Deno.test("announcementTopic() names one versioned topic per category and parses back", () => {
  assert.equal(announcementTopic("sensors"), "/kosmos/announce/1/sensors");
  assert.equal(announcementTopics().length, CATEGORIES.length);
  for (const category of CATEGORIES) {
    assert.equal(parseAnnouncementTopic(announcementTopic(category)), category);
  }
  assert.throws(() => announcementTopic("weather" as Category), /unknown category "weather"/);
  assert.equal(parseAnnouncementTopic("/kosmos/announce/1/weather"), undefined);
  assert.equal(parseAnnouncementTopic("/kosmos/announce/2/sensors"), undefined);
  assert.deepEqual([CHUNKS_PROTOCOL, CATALOG_SYNC_PROTOCOL, SALE_PROTOCOL], [
    "/kosmos/chunks/1.0.0",
    "/kosmos/catalog-sync/1.0.0",
    "/kosmos/sale/1.0.0",
  ]);
});
