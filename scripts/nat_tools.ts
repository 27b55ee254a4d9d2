/**
 * Makes sure the NAT test (`tests/nat_test.ts`) has its tools: `ip` (iproute2)
 * for network namespaces and `nft` (nftables) for the router's masquerade,
 * installing them with apt when they are missing and we are root. Returns
 * whether both are there; without them the NAT test skips itself.
 */
async function has(tool: string): Promise<boolean> {
  return await new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null", stderr: "null" })
    .output().then((r) => r.success, () => false);
}

export async function ensureNatTools(): Promise<boolean> {
  const missing = [];
  if (!(await has("ip"))) missing.push("iproute2");
  if (!(await has("nft"))) missing.push("nftables");
  if (missing.length === 0) return true;
  if (Deno.build.os !== "linux" || Deno.uid?.() !== 0) return false;
  console.error(
    `test: installing ${missing.join(" and ")} with apt-get for the NAT test (once per machine)…`,
  );
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", ...missing]]) {
    const ok = await new Deno.Command("apt-get", { args, env, stdout: "null", stderr: "inherit" })
      .output().then((r) => r.success, () => false);
    if (!ok) return false;
  }
  return await has("ip") && await has("nft");
}
