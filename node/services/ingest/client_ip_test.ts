import assert from "node:assert/strict";
import { isProxyAddress, resolveClientIp } from "./client_ip.ts";

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
