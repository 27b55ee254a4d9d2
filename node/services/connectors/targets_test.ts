import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import {
  checkDirectoryTarget,
  checkWebhookTarget,
  isPublicAddress,
  isWebhookAllowEntry,
  parseCidr,
  parseIp,
} from "./targets.ts";
import { tempDir } from "../../../tests/helpers.ts";

const publicness = (ip: string) => isPublicAddress(parseIp(ip)!);

Deno.test("parseIp() reads IPv4, IPv6, embedded IPv4 tails, brackets and zones, and nothing else", () => {
  assert.equal(parseIp("127.0.0.1"), (0xffffn << 32n) | 0x7f000001n);
  assert.equal(parseIp("::ffff:127.0.0.1"), parseIp("127.0.0.1"));
  assert.equal(parseIp("::ffff:7f00:1"), parseIp("127.0.0.1"));
  assert.equal(parseIp("[::1]"), 1n);
  assert.equal(parseIp("fe80::1%eth0"), (0xfe80n << 112n) | 1n);
  assert.equal(parseIp("1:2:3:4:5:6:7:8"), 0x00010002000300040005000600070008n);
  for (
    const bad of ["", "1.2.3", "256.1.1.1", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "g::1", "example.com"]
  ) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

Deno.test("isPublicAddress() refuses loopback, private, CGNAT, link-local, ULA, multicast, unspecified and their IPv6 forms", () => {
  for (
    const ip of [
      "127.0.0.1",
      "127.255.255.254",
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "100.64.0.1",
      "169.254.169.254",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "::",
      "::1",
      "fd00::1",
      "fc00::1",
      "fe80::1",
      "ff02::1",
      "::ffff:127.0.0.1",
      "::ffff:10.0.0.1",
      "::ffff:169.254.169.254",
      "::127.0.0.1",
      "64:ff9b::a9fe:a9fe",
      "2002:7f00:1::",
    ]
  ) assert.equal(publicness(ip), false, ip);
  for (
    const ip of ["93.184.215.14", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:1.1.1.1"]
  ) {
    assert.equal(publicness(ip), true, ip);
  }
});

Deno.test("isPublicAddress() agrees for every IPv4 address with its IPv4-mapped IPv6 form", () => {
  fc.assert(
    fc.property(fc.ipV4(), (ip) => {
      const [a, b, c, d] = ip.split(".").map(Number);
      const mapped = `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
      assert.equal(publicness(mapped), publicness(ip));
      assert.equal(publicness(`::ffff:${ip}`), publicness(ip));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("isWebhookAllowEntry() and parseCidr() accept host names, addresses and ranges only", () => {
  for (const ok of ["localhost", "hooks.internal", "127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"]) {
    assert.equal(isWebhookAllowEntry(ok), true, ok);
  }
  for (const bad of ["", "10.0.0.0/33", "::/129", "*.example.com", "http://x", "a b", 7, "1.2.3"]) {
    assert.equal(isWebhookAllowEntry(bad), false, String(bad));
  }
  assert.equal(parseCidr("10.0.0.0/8")!.bits, 104);
});

Deno.test("checkWebhookTarget() refuses a name that resolves to any non-public address, unless allowed", async () => {
  const url = new URL("https://hooks.example.test/in");
  // deno-lint-ignore require-await
  const lookup = async () => ["93.184.215.14", "10.0.0.7"];
  await assert.rejects(checkWebhookTarget(url, { lookup }), {
    name: "DeliveryTargetError",
    message: /10\.0\.0\.7 is a loopback, private/,
  });
  assert.deepEqual(await checkWebhookTarget(url, { lookup, webhookAllow: ["10.0.0.0/24"] }), [
    "93.184.215.14",
    "10.0.0.7",
  ]);
  assert.deepEqual(await checkWebhookTarget(url, { lookup, webhookAllow: ["HOOKS.example.test."] }), [
    "93.184.215.14",
    "10.0.0.7",
  ]);
  // deno-lint-ignore require-await
  const nothing = async () => [];
  await assert.rejects(checkWebhookTarget(url, { lookup: nothing }), /has no address/);
});

Deno.test("checkDirectoryTarget() allows only paths under the deliveries dir or allowed dirs, after .. and symlinks", async () => {
  await using root = await tempDir();
  const deliveries = join(root.path, "deliveries");
  const outside = join(root.path, "outside");
  await Deno.mkdir(deliveries);
  await Deno.mkdir(outside);
  await Deno.symlink(outside, join(deliveries, "escape"));
  const policy = { deliveriesDir: deliveries };
  assert.equal(await checkDirectoryTarget(join(deliveries, "a", "b"), policy), join(deliveries, "a", "b"));
  assert.equal(await checkDirectoryTarget(`${deliveries}/x/../y`, policy), join(deliveries, "y"));
  for (
    const dir of [
      outside,
      `${deliveries}/../outside`,
      join(deliveries, "escape"),
      join(deliveries, "escape/new"),
    ]
  ) {
    await assert.rejects(checkDirectoryTarget(dir, policy), { name: "DeliveryTargetError" }, dir);
  }
  await assert.rejects(checkDirectoryTarget(`${deliveries}-evil`, policy), { name: "DeliveryTargetError" });
  assert.equal(
    await checkDirectoryTarget(join(deliveries, "escape", "new"), { ...policy, directoryAllow: [outside] }),
    join(await Deno.realPath(outside), "new"),
  );
  await assert.rejects(checkDirectoryTarget("relative", policy), TypeError);
});
