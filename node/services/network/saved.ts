/**
 * The network a node joined through a bootstrap peer, kept in
 * `<dataDir>/chain/joined-network.json` (and the peer in `joined-from`), so a
 * restart finds it again when that peer does not answer.
 *
 * ```ts
 * const saved = await loadJoinedNetwork(dataDir); // { profile, from } | undefined
 * ```
 */
import { join } from "node:path";
import { readJsonFile } from "../../json_file.ts";
import { type NetworkProfile, parseNetworkProfile } from "../../../protocol/network.ts";

export async function loadJoinedNetwork(
  dataDir: string,
): Promise<{ profile: NetworkProfile; from: string } | undefined> {
  const path = join(dataDir, "chain", "joined-network.json");
  const value = await readJsonFile(path);
  if (value === undefined) return undefined;
  const profile = parseNetworkProfile(value, path);
  const from = (await Deno.readTextFile(join(dataDir, "chain", "joined-from")).catch(() => "")).trim();
  return { profile, from: from || "a bootstrap peer" };
}
