/**
 * Finds the registry listing of a dataset owned by this node's wallet: the
 * indexer's `Listed` events narrow the candidates (newest first, syncing once
 * when there are none), and the chain confirms owner and manifest CID.
 */
import { getAddress } from "viem";
import { type ChainService, cidToBytes, getListing } from "../chain/mod.ts";
import type { Identity } from "../identity/mod.ts";

export async function findOwnListing(
  components: { chain: ChainService; identity: Identity },
  manifestCid: string,
): Promise<bigint | undefined> {
  const { chain, identity } = components;
  const me = identity.account.address;
  const cidBytes = cidToBytes(manifestCid).toLowerCase();
  const find = () =>
    chain.indexer.listEvents({ name: "Listed", account: me, limit: 100_000 })
      .filter((e) => String(e.args.cid).toLowerCase() === cidBytes).map((e) => BigInt(e.listingId!))
      .reverse();
  let candidates = find();
  if (candidates.length === 0) {
    await chain.indexer.sync();
    candidates = find();
  }
  for (const listingId of candidates) {
    const listing = await getListing(chain.client, { listingId });
    if (listing && listing.manifestCid === manifestCid && getAddress(listing.owner) === me) {
      return listingId;
    }
  }
  return undefined;
}
