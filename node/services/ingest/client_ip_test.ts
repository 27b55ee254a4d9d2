import assert from "node:assert/strict";
import { isProxyAddress, rateLimitKey, resolveClientIp } from "./client_ip.ts";

Deno.test("resolveClientIp() ignores X-Forwarded-For unless the peer is a trusted proxy", () => {
  assert.equal(resolveClientIp("198.51.100.7", "203.0.113.9", []), "198.51.100.7");
  assert.equal(resolveClientIp("198.51.100.7", "203.0.113.9", ["10.0.0.0/8"]), "198.51.100.7");
  assert.equal(resolveClientIp("10.1.2.3", "203.0.113.9", ["10.0.0.0/8"]), "203.0.113.9");
  assert.equal(resolveClientIp("::ffff:10.1.2.3", "203.0.113.9", ["10.0.0.0/8"]), "203.0.113.9");
  // Rightmost untrusted hop: a client cannot prepend its own choice.
  assert.equal(resolveClientIp("10.0.0.1", "1.1.1.1, 203.0.113.9, 10.0.0.2", ["10.0.0.0/8"]), "203.0.113.9");
  assert.equal(resolveClientIp("127.0.0.1", "garbage", ["127.0.0.1"]), "127.0.0.1");
  assert.equal(resolveClientIp("::1", "2001:db8::1", ["::1"]), "2001:db8::1");
});

Deno.test("isProxyAddress() accepts IPs and IPv4 CIDR ranges only", () => {
  for (const ok of ["127.0.0.1", "10.0.0.0/8", "::1", "2001:db8::1", "0.0.0.0/0"]) {
    assert.ok(isProxyAddress(ok), ok);
  }
  for (const bad of ["", "localhost", "10.0.0.0/33", "1.2.3", "300.1.1.1", "10.0.0.0/8/1", 7]) {
    assert.ok(!isProxyAddress(bad), String(bad));
  }
});

Deno.test("rateLimitKey() keys IPv6 on the /64, IPv4 on the address, and IPv4-mapped IPv6 as IPv4", () => {
  assert.equal(rateLimitKey("203.0.113.9"), "203.0.113.9");
  assert.equal(rateLimitKey("::ffff:203.0.113.9"), "203.0.113.9");
  assert.equal(rateLimitKey("::FFFF:cb00:7109"), "203.0.113.9");
  assert.equal(rateLimitKey("2001:db8:1:2:a:b:c:d"), "2001:db8:1:2::/64");
  assert.equal(rateLimitKey("2001:DB8:1:2::1"), "2001:db8:1:2::/64");
  assert.equal(rateLimitKey("2001:0db8:0001:0002:ffff::9"), "2001:db8:1:2::/64");
  assert.equal(rateLimitKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(rateLimitKey("::1"), "0:0:0:0::/64");
  assert.notEqual(rateLimitKey("2001:db8:1:3::1"), rateLimitKey("2001:db8:1:2::1"));
  assert.equal(rateLimitKey("2001:db8::1.2.3.4"), "2001:db8:0:0::/64");
  for (const odd of ["", "1:2:3", "1::2::3", "garbage"]) assert.equal(rateLimitKey(odd), odd.toLowerCase());
});
