import assert from "node:assert/strict";
import { defaultGeoDatabasePath, GeoLookup, toGeoFields } from "./geo.ts";

Deno.test("GeoLookup.lookup() finds country, region and city of public IPv4 and IPv6 addresses", async () => {
  const geo = new GeoLookup();
  assert.deepEqual(await geo.lookup("81.2.69.142"), {
    country: "GB",
    region: "GB-ENG",
    regionName: "England",
    city: "2648899",
    cityName: "Gamlingay",
  });
  const frankfurt = await geo.lookup("2a00:1450:4001:80b::200e");
  assert.equal(frankfurt.country, "DE");
  assert.equal(frankfurt.region, "DE-HE");
  assert.equal(frankfurt.city, "2925533");
  assert.equal(frankfurt.cityName, "Frankfurt am Main");
  assert.deepEqual(await geo.lookup("8.8.8.8"), { country: "US" }, "a country without a city");
});

Deno.test("GeoLookup.lookup() answers {} for private, loopback and malformed addresses", async () => {
  const geo = new GeoLookup();
  for (const ip of ["127.0.0.1", "10.1.2.3", "::1", "", "not an ip", "999.1.1.1", "1.2.3", "::ffff:zz"]) {
    assert.deepEqual(await geo.lookup(ip), {}, ip);
  }
});

Deno.test("GeoLookup.open() rejects a file that is not an MMDB database", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, "not a database");
    await assert.rejects(() => new GeoLookup({ path }).open());
    await assert.rejects(() => new GeoLookup({ path: `${path}.missing` }).lookup("81.2.69.142"));
  } finally {
    await Deno.remove(path);
  }
  assert.match(defaultGeoDatabasePath(), /GeoLite2-City\.mmdb$/);
});

Deno.test("toGeoFields() keeps only well-formed codes and names", () => {
  assert.deepEqual(toGeoFields({ country: { iso_code: "gb" } }), {});
  assert.deepEqual(
    toGeoFields({
      country: { iso_code: "DE" },
      subdivisions: [{ iso_code: "BE'; DROP", names: { en: "Berlin" } }],
      city: { geoname_id: -5, names: { en: "x" } },
    }),
    { country: "DE" },
  );
  assert.deepEqual(
    toGeoFields({
      country: { iso_code: "DE" },
      subdivisions: [{ iso_code: "BE", names: { en: "Land\u0000Berlin" } }],
      city: { geoname_id: 2950159, names: { en: "Berlin" } },
    }),
    { country: "DE", region: "DE-BE", city: "2950159", cityName: "Berlin" },
  );
});
