/**
 * `kosmos verify FILE PROOF` — checks a file against an anchoring proof and the chain, needing no trust in
 * any node: PROOF is a JSON file of `AnchorProofView` (as `GET /api/v1/proofs/:cid` answers) or a CID to ask
 * the node for. The file's CID is computed with the proof CID's codec and sha2-256 and must be the proof's;
 * the leaf must be `keccak256(CID bytes)`; the Merkle path must lead to the root; and the anchor contract
 * on the chain (`--rpc-url`, else the node's chain) must answer `verify(root, leaf, proof)` with true. The
 * transaction's receipt must be in the proof's block. Then it prints when the root was anchored; any failed
 * check exits 1 with the reason.
 */
import { createHash } from "node:crypto";
import { CID } from "multiformats/cid";
import { create as createDigest } from "multiformats/hashes/digest";
import { createPublicClient, getAddress, type Hex, http, isAddress, keccak256 } from "viem";
import type { AnchorProofView } from "../../protocol/api/streams.ts";
import type { ChainInfo } from "../../protocol/api/chain.ts";
import { kosmosAnchorAbi } from "../../protocol/contracts_generated.ts";
import { SHA2_256_CODE } from "../../protocol/ids.ts";
import { verifyMerkleProof } from "../../protocol/merkle.ts";
import { readClientToken } from "../api_token.ts";
import { KosmosError } from "../errors.ts";
import { describeFailure, getNodeUrl, parseArgs, UsageError } from "./args.ts";
import type { CommandIo } from "./command.ts";
import { createProgressBar, formatBytes } from "./progress.ts";
import { join } from "node:path";
import { homedir } from "node:os";

export const VERIFY_USAGE = `Usage: kosmos verify FILE PROOF [--rpc-url URL] [--json]

Checks FILE against an anchoring proof and the chain. PROOF is a JSON file as
GET /api/v1/proofs/:cid answers, or a CID whose proof the node is asked for.
Prints when the file's batch was anchored, in which block and transaction;
exits 1 with the reason when any check fails.

Flags:
  --rpc-url URL    the chain to ask (KOSMOS_RPC_URL; default: the node's chain)
  --json           print one JSON document on stdout (and nothing else there)
  --url URL        the node's API, for a PROOF given as a CID or the chain (KOSMOS_URL)
  --data-dir DIR   the node's data dir, for its api-token (KOSMOS_DATA_DIR; default ~/.kosmos)
`;

const MAX_PROOF_FILE_BYTES = 64 * 1024;
const HEX32 = /^0x[0-9a-fA-F]{64}$/;

/** A proof that does not hold: exit code 1, the message says which check failed. */
export class VerifyFailedError extends KosmosError {
  override name = "VerifyFailedError";
}

/** Checks the fields of an `AnchorProofView` from a file or a node. */
export function parseProof(value: unknown, source: string): AnchorProofView {
  const bad = (field: string) => new KosmosError(`verify: ${source} is not an anchor proof: bad ${field}`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad("JSON object");
  const p = value as Record<string, unknown>;
  for (const field of ["leaf", "root", "txHash"]) {
    if (typeof p[field] !== "string" || !HEX32.test(p[field] as string)) throw bad(field);
  }
  if (
    !Array.isArray(p.proof) || p.proof.length > 64 ||
    !p.proof.every((h) => typeof h === "string" && HEX32.test(h))
  ) {
    throw bad("proof");
  }
  if (typeof p.cid !== "string" || p.cid.length > 100) throw bad("cid");
  if (!Number.isSafeInteger(p.chainId) || (p.chainId as number) <= 0) throw bad("chainId");
  if (typeof p.anchor !== "string" || !isAddress(p.anchor, { strict: false })) throw bad("anchor");
  if (typeof p.blockNumber !== "string" || !/^[0-9]{1,20}$/.test(p.blockNumber)) throw bad("blockNumber");
  if (!Number.isSafeInteger(p.anchoredAt) || (p.anchoredAt as number) < 0) throw bad("anchoredAt");
  const lower = (h: string) => h.toLowerCase() as Hex;
  return {
    cid: p.cid,
    leaf: lower(p.leaf as string),
    proof: (p.proof as string[]).map(lower),
    root: lower(p.root as string),
    chainId: p.chainId as number,
    anchor: getAddress(p.anchor),
    txHash: lower(p.txHash as string),
    blockNumber: p.blockNumber,
    anchoredAt: p.anchoredAt as number,
  };
}

/** The CID of `path`'s bytes with `codec` and sha2-256, hashed as a stream (with progress when large). */
async function cidOfFile(path: string, codec: number): Promise<CID> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (cause) {
    throw new KosmosError(`verify: cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  const size = (await file.stat()).size;
  const bar = size > 64 * 1024 * 1024
    ? createProgressBar({ label: "Hashing", total: size, format: formatBytes })
    : null;
  const hash = createHash("sha256");
  let done = 0;
  for await (const chunk of file.readable) {
    hash.update(chunk);
    done += chunk.byteLength;
    bar?.update(done);
  }
  bar?.finish();
  return CID.createV1(codec, createDigest(SHA2_256_CODE, new Uint8Array(hash.digest())));
}

function nodeToken(env: Record<string, string>, flags: Map<string, string>): Promise<string | undefined> {
  const dataDir = flags.get("data-dir") ?? env.KOSMOS_DATA_DIR ?? join(homedir(), ".kosmos");
  return readClientToken("verify", { dataDir, env }).catch(() => undefined);
}

async function getJson(
  url: URL,
  token: string | undefined,
  what: string,
  signal?: AbortSignal,
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal,
    });
  } catch (cause) {
    throw new KosmosError(`verify: cannot ${what}: the node at ${url.origin} did not answer`, { cause });
  }
  if (!response.ok) throw new KosmosError(`verify: cannot ${what}: ${await describeFailure(response)}`);
  return await response.json();
}

/** Runs `kosmos verify`. */
export async function runVerify(args: string[], io: CommandIo = {}): Promise<number> {
  const print = io.print ?? ((line: string) => console.log(line));
  const env = io.env ?? Deno.env.toObject();
  const { positionals, flags, help, switches } = parseArgs("verify", args, ["url", "data-dir", "rpc-url"], {
    booleans: ["json"],
  });
  if (help) {
    print(VERIFY_USAGE);
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError("verify: expected FILE and PROOF (try --help)");
  const [path, proofArg] = positionals;
  const node = () => getNodeUrl("verify", flags, env);

  let proof: AnchorProofView;
  const stat = await Deno.stat(proofArg).catch(() => null);
  if (stat?.isFile) {
    if (stat.size > MAX_PROOF_FILE_BYTES) {
      throw new KosmosError(`verify: ${proofArg} is too large for a proof`);
    }
    let value: unknown;
    try {
      value = JSON.parse(await Deno.readTextFile(proofArg));
    } catch (cause) {
      throw new KosmosError(`verify: ${proofArg} is not JSON`, { cause });
    }
    proof = parseProof(value, proofArg);
  } else {
    try {
      CID.parse(proofArg);
    } catch {
      throw new UsageError(
        `verify: PROOF ${JSON.stringify(proofArg.slice(0, 80))} is neither a file nor a CID`,
      );
    }
    const url = new URL(`/api/v1/proofs/${encodeURIComponent(proofArg)}`, node());
    proof = parseProof(await getJson(url, undefined, "get the proof", io.signal), "the node's answer");
  }

  let proofCid: CID;
  try {
    proofCid = CID.parse(proof.cid);
  } catch (cause) {
    throw new KosmosError(`verify: the proof's cid is not a CID`, { cause });
  }
  if (proofCid.version !== 1 || proofCid.multihash.code !== SHA2_256_CODE) {
    throw new VerifyFailedError("verify: the proof's CID is not a CIDv1 with a sha2-256 hash");
  }
  const fileCid = await cidOfFile(path, proofCid.code);
  if (!fileCid.equals(proofCid)) {
    throw new VerifyFailedError(
      `verify: ${path} is not the anchored content: its CID is ${fileCid}, the proof's ${proofCid}`,
    );
  }
  if (keccak256(fileCid.bytes) !== proof.leaf) {
    throw new VerifyFailedError("verify: the proof's leaf is not keccak256 of the CID");
  }
  if (!verifyMerkleProof({ leaf: proof.leaf, proof: proof.proof, root: proof.root })) {
    throw new VerifyFailedError("verify: the Merkle path does not lead from the leaf to the root");
  }

  let rpcUrl = flags.get("rpc-url") ?? env.KOSMOS_RPC_URL;
  if (!rpcUrl) {
    const info = await getJson(
      new URL("/api/v1/chain", node()),
      await nodeToken(env, flags),
      "ask the node for its chain",
      io.signal,
    ) as ChainInfo;
    rpcUrl = info.rpcUrl;
  }
  const client = createPublicClient({ transport: http(rpcUrl, { timeout: 15_000, retryCount: 1 }) });
  let chainId: number;
  try {
    chainId = await client.getChainId();
  } catch (cause) {
    throw new KosmosError(`verify: cannot reach the chain at ${rpcUrl}`, { cause });
  }
  if (chainId !== proof.chainId) {
    throw new VerifyFailedError(
      `verify: the proof is for chain ${proof.chainId}; ${rpcUrl} is chain ${chainId}`,
    );
  }
  let ok: boolean;
  let stamped: bigint;
  try {
    [ok, stamped] = await client.readContract({
      address: proof.anchor,
      abi: kosmosAnchorAbi,
      functionName: "verify",
      args: [proof.root, proof.leaf, proof.proof],
    });
  } catch (cause) {
    throw new VerifyFailedError(
      `verify: the anchor contract ${proof.anchor} did not answer on chain ${chainId}`,
      {
        cause,
      },
    );
  }
  if (!ok) {
    throw new VerifyFailedError(
      stamped === 0n
        ? `verify: the root ${proof.root} was never anchored on chain ${chainId}`
        : "verify: the anchor contract rejects the proof",
    );
  }
  const receipt = await client.getTransactionReceipt({ hash: proof.txHash }).catch(() => null);
  if (!receipt || receipt.blockNumber.toString() !== proof.blockNumber || receipt.status !== "success") {
    throw new VerifyFailedError(
      `verify: transaction ${proof.txHash} is not a mined transaction in block ${proof.blockNumber}`,
    );
  }
  const at = new Date(Number(stamped) * 1000).toISOString();
  const result = {
    ok: true,
    cid: proof.cid,
    root: proof.root,
    anchoredAt: at,
    blockNumber: proof.blockNumber,
    txHash: proof.txHash,
    chainId,
  };
  if (switches.has("json")) print(JSON.stringify(result));
  else print(`anchored at ${at} in block ${proof.blockNumber} (tx ${proof.txHash})`);
  return 0;
}
