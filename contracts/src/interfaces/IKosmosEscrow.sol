// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Kosmos escrow: the key sale
/// @notice Payment and key delivery as one exchange, no party trusted. docs/key-sale.md has the
///         sequence, what each party sees when, and the gas figures.
///
/// Tagged hashes. Every hash of the one-time sale key `kSale` (32 bytes) has one job and its own tag,
/// so no published value equals a pad:
///   commitment  `kSaleHash = keccak256("kosmos.sale.commit" ‖ kSale)`
///   pad i       `pad_i     = keccak256("kosmos.sale.pad" ‖ kSale ‖ uint256(i))`
/// (abi.encodePacked: the tag's ASCII bytes, then the 32-byte words.)
///
/// 0. The seller lists the manifest on the registry with `dekCommit = keccak256(DEK)`; the registry binds
///    it to the listing, and a sale only opens when its quote carries that same `dekCommit`.
/// 1. Off chain, the seller (the listing's owner, or a delegate the owner approved for that listing
///    with {setDelegate}) signs an EIP-712 {Quote} in the domain ("Kosmos Escrow", "1", chain id, this
///    contract) and gives the buyer `Z = DEK ⊕ pad_0` for a fresh one-time `kSale`.
/// 2. The buyer checks the quote (its `dekCommit` is the manifest's and the listing's, `zHash` is
///    `keccak256(Z)`) and calls {open}: the price is locked and the sale is recorded. The sale id is the
///    quote's EIP-712 digest; quote nonces are single-use per signer (the owner and each delegate have
///    their own; number them sequentially: 256 nonces share one storage word). An open sale id cannot be
///    opened again.
/// 3. The seller calls {reveal} with `kSale` before the reveal deadline; the escrow checks it against
///    `kSaleHash`.
/// 4. The buyer computes `DEK = Z ⊕ pad_0`, checks `keccak256(DEK)` against the commitment, fetches and
///    verifies the data (chunk CIDs, decryption, the plaintext Merkle root) and calls {confirm}; or,
///    before the dispute deadline:
///    - {complain}s with `Z` when the key is wrong: the escrow recomputes the DEK and refunds the buyer
///      iff `keccak256(Z) == zHash` and `keccak256(Z ⊕ pads) != dekCommit` (no trust needed);
///    - {dispute}s with the hash of its evidence when the key is right but the data is bad (the chunks
///      do not decrypt to the manifest's Merkle root). The sale freezes; the arbiter (the registry's)
///      rules with {resolveDispute}: bad data refunds the buyer, otherwise the sale completes. If the
///      arbiter has not ruled `arbitrationWindow` seconds after the dispute, anyone may {expireDispute},
///      which completes the sale for the seller: the buyer already holds a key the contract verified,
///      so a silent arbiter must not turn every dispute into free data (the buyer keeps the registry
///      challenge against the listing's stake).
/// 5. Without a reveal, anyone may {refund} the buyer after the reveal deadline; without a complaint or
///    dispute, anyone may {finalize} after the dispute deadline. Completion credits the price split
///    (seller / gateway / treasury in basis points, the gateway's share to the treasury when there is no
///    gateway, rounding dust to the treasury) to balances paid out by {withdraw}.
///
/// Batches (stream subscriptions): one quote may sell `n` epoch keys. Then
/// `Z = Z_0 ‖ … ‖ Z_{n-1}` with `Z_i = DEK_i ⊕ pad_i` and `dekCommit = keccak256(DEK_0 ‖ … ‖ DEK_{n-1})`.
/// A stream listing is staked with `dekCommit = 0` and each of its quotes carries the commitment of the
/// epoch keys it sells; {complain} checks the revealed keys against the quote's commitment as for a dataset.
/// For `n = 1` this is exactly the single-key sale. Each word has its own pad, so the words of Z reveal
/// nothing about each other; `zHash = keccak256(Z)` fixes `n`. A complaint refunds the whole batch when
/// any word is wrong.
///
/// Storage: a sale is kept as one word, `keccak256(abi.encode(sale))`, and every later call passes the
/// {Sale} back (it is in the {Opened} event; {Revealed} gives the `disputeDeadline` and {Disputed} the
/// `disputedAt` to set). This keeps an honest sale (open + reveal + confirm) under
/// 190,000 gas.
interface IKosmosEscrow {
    /// @notice What the seller signs. All hashes are keccak256.
    /// @param listingId The registry listing sold.
    /// @param buyer The only account that may open the sale.
    /// @param price Tokens to lock.
    /// @param zHash keccak256(Z).
    /// @param kSaleHash keccak256("kosmos.sale.commit" ‖ kSale), kSale as 32 bytes.
    /// @param dekCommit keccak256 of the DEK (of the concatenated DEKs for a batch); must equal the
    ///        listing's registry `dekCommitOf`, or, for a stream listing (whose `dekCommitOf` is 0), be
    ///        nonzero: each stream sale commits to the epoch keys it sells.
    /// @param gateway The node that brokered the sale, paid its share; zero for none.
    /// @param nonce Single use per signer.
    /// @param deadline Last timestamp at which the sale can be opened.
    struct Quote {
        uint256 listingId;
        address buyer;
        uint256 price;
        bytes32 zHash;
        bytes32 kSaleHash;
        bytes32 dekCommit;
        address gateway;
        uint256 nonce;
        uint256 deadline;
    }

    /// @notice An open sale, passed back to every call after {open}.
    /// @param listingId The listing sold (its delegates may reveal).
    /// @param buyer Who locked the price.
    /// @param seller The listing owner when the sale was opened; paid on completion.
    /// @param gateway Paid its share on completion; zero for none.
    /// @param price Tokens locked.
    /// @param revealDeadline Last timestamp for {reveal}.
    /// @param disputeDeadline 0 until revealed, then the last timestamp for {complain} and {dispute}.
    /// @param disputedAt 0 unless the buyer disputed, then when.
    struct Sale {
        uint256 listingId;
        address buyer;
        address seller;
        address gateway;
        uint96 price;
        uint40 revealDeadline;
        uint40 disputeDeadline;
        uint40 disputedAt;
        bytes32 zHash;
        bytes32 kSaleHash;
        bytes32 dekCommit;
    }

    /// @notice The buyer opened sale `saleId` (the quote digest) of `listingId`, locking `sale.price`.
    event Opened(bytes32 indexed saleId, uint256 indexed listingId, address indexed buyer, Sale sale);

    /// @notice The seller revealed `kSale`; the buyer may complain until `disputeDeadline`.
    event Revealed(bytes32 indexed saleId, bytes32 kSale, uint40 disputeDeadline);

    /// @notice Why a sale was refunded.
    /// @custom:value NotRevealed The seller missed the reveal deadline ({refund}).
    /// @custom:value WrongKey The buyer proved the revealed key wrong ({complain}).
    /// @custom:value BadData The arbiter found the data bad ({resolveDispute}).
    enum RefundReason {
        NotRevealed,
        WrongKey,
        BadData
    }

    /// @notice Sale `saleId` completed: the amounts were credited to seller, gateway and treasury.
    /// @param confirmed True when the buyer confirmed; false when finalized after the dispute window or
    ///        completed by a dispute ruling or expiry.
    event Completed(
        bytes32 indexed saleId, bool confirmed, uint256 toSeller, uint256 toGateway, uint256 toTreasury
    );

    /// @notice Sale `saleId` was refunded to `buyer` for `reason`.
    event Refunded(bytes32 indexed saleId, address indexed buyer, uint256 amount, RefundReason reason);

    /// @notice The buyer disputed sale `saleId` as bad data at `disputedAt`; `evidenceHash` is the
    ///         keccak256 of the evidence it hands the arbiter.
    event Disputed(bytes32 indexed saleId, address indexed buyer, bytes32 evidenceHash, uint40 disputedAt);

    /// @notice The dispute of sale `saleId` ended: `bad` when the buyer was refunded, `expired` when no
    ///         ruling came within the arbitration window.
    event DisputeResolved(bytes32 indexed saleId, bool bad, bool expired);

    /// @notice `owner` approved or removed `delegate` to sign quotes and reveal keys for its listing
    ///         `listingId`.
    event DelegateSet(address indexed owner, uint256 indexed listingId, address indexed delegate, bool approved);

    /// @notice `signer` cancelled quote nonce `nonce` before use.
    event NonceInvalidated(address indexed signer, uint256 nonce);

    /// @notice `account` withdrew `amount`.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice A zero address or basis points that do not add up to 10,000 given to the constructor.
    error InvalidConfig();

    /// @notice The quote's deadline has passed.
    error QuoteExpired(uint256 deadline);

    /// @notice The quote is for `buyer`, not the caller.
    error WrongBuyer(address buyer, address caller);

    /// @notice The signature is malformed (length, `v`, high `s`) or does not recover an address.
    error InvalidSignature();

    /// @notice `signer` is neither the listing owner `owner` nor one of its delegates for the listing. Also
    ///         what a quote signed for another chain or another escrow gives, since its digest differs.
    error UnauthorizedSigner(address signer, address owner);

    /// @notice `signer`'s quote nonce `nonce` was already used or cancelled.
    error NonceUsed(address signer, uint256 nonce);

    /// @notice The quote's `dekCommit` is not the one listing `listingId` was staked with (or is zero for a
    ///         stream listing).
    error DekCommitMismatch(uint256 listingId);

    /// @notice Sale `saleId` is already open.
    error SaleExists(bytes32 saleId);

    /// @notice `caller` does not own listing `listingId`.
    error NotListingOwner(uint256 listingId, address caller);

    /// @notice The price does not fit 96 bits.
    error PriceTooLarge(uint256 price);

    /// @notice No open sale `saleId` matches the {Sale} given.
    error UnknownSale(bytes32 saleId);

    /// @notice Only the buyer may do this.
    error NotBuyer(bytes32 saleId, address caller);

    /// @notice Only the seller or its delegate may do this.
    error NotSeller(bytes32 saleId, address caller);

    /// @notice The reveal deadline `deadline` has passed.
    error RevealDeadlinePassed(bytes32 saleId, uint40 deadline);

    /// @notice The reveal deadline `deadline` has not passed yet.
    error RevealDeadlineNotPassed(bytes32 saleId, uint40 deadline);

    /// @notice The key was already revealed.
    error AlreadyRevealed(bytes32 saleId);

    /// @notice The key has not been revealed.
    error NotRevealed(bytes32 saleId);

    /// @notice keccak256("kosmos.sale.commit" ‖ kSale) differs from the sale's kSaleHash.
    error WrongSaleKey(bytes32 saleId);

    /// @notice Sale `saleId` is disputed: only the arbiter's ruling (or its expiry) ends it.
    error SaleDisputed(bytes32 saleId);

    /// @notice Sale `saleId` is not disputed.
    error NotDisputed(bytes32 saleId);

    /// @notice Only the registry's arbiter may rule.
    error NotArbiter(address caller);

    /// @notice The arbiter may still rule on sale `saleId` until `deadline`.
    error ArbitrationWindowOpen(bytes32 saleId, uint256 deadline);

    /// @notice The dispute window closed at `deadline`.
    error DisputeWindowClosed(bytes32 saleId, uint40 deadline);

    /// @notice The dispute window is open until `deadline`.
    error DisputeWindowOpen(bytes32 saleId, uint40 deadline);

    /// @notice Z is empty or not a whole number of 32-byte words.
    error InvalidZLength(uint256 length);

    /// @notice keccak256(Z) differs from the sale's zHash.
    error WrongZ(bytes32 saleId);

    /// @notice The complaint fails: Z and kSale yield the committed key(s).
    error KeyIsValid(bytes32 saleId);

    /// @notice The caller has no balance to withdraw.
    error NothingToWithdraw(address account);

    /// @notice Opens the sale `quote` describes, signed by the listing owner or its delegate, pulling the
    ///         price from the buyer (the caller; approve first).
    /// @return saleId The quote's EIP-712 digest.
    function open(Quote calldata quote, bytes calldata signature) external returns (bytes32 saleId);

    /// @notice {open} with an EIP-2612 permit for the price in the same transaction. A permit that fails
    ///         (for example already used by a front-runner) is ignored when the allowance suffices.
    function openWithPermit(
        Quote calldata quote,
        bytes calldata signature,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (bytes32 saleId);

    /// @notice Reveals `kSale` (seller or its delegate for the listing, until the reveal deadline); starts
    ///         the dispute window.
    function reveal(bytes32 saleId, Sale calldata sale, bytes32 kSale) external;

    /// @notice The buyer accepts the revealed key and the data; pays out.
    function confirm(bytes32 saleId, Sale calldata sale) external;

    /// @notice The buyer proves the revealed key wrong with `z` before the dispute deadline; refunds the
    ///         buyer. `kSale` is the revealed key (from {Revealed}). Reverts {KeyIsValid} for a good key.
    function complain(bytes32 saleId, Sale calldata sale, bytes32 kSale, bytes calldata z) external;

    /// @notice The buyer disputes the data (right key, bad data) before the dispute deadline, committing
    ///         to its evidence with `evidenceHash`; freezes the sale until {resolveDispute} or
    ///         {expireDispute}.
    function dispute(bytes32 saleId, Sale calldata sale, bytes32 evidenceHash) external;

    /// @notice The arbiter rules on a disputed sale: `bad` refunds the buyer, otherwise the sale completes.
    function resolveDispute(bytes32 saleId, Sale calldata sale, bool bad) external;

    /// @notice Completes a disputed sale for the seller once the arbiter has not ruled within
    ///         `arbitrationWindow` seconds of the dispute (anyone may call).
    function expireDispute(bytes32 saleId, Sale calldata sale) external;

    /// @notice Refunds the buyer when the key was not revealed by the reveal deadline (anyone may call).
    function refund(bytes32 saleId, Sale calldata sale) external;

    /// @notice Pays out after the dispute window without complaint or dispute (anyone may call).
    function finalize(bytes32 saleId, Sale calldata sale) external;

    /// @notice Pays the caller's whole balance.
    function withdraw() external;

    /// @notice Approves or removes `delegate` to sign quotes and reveal keys for listing `listingId`
    ///         (its current owner only). The approval belongs to the owner: a transfer of the listing
    ///         drops it.
    function setDelegate(uint256 listingId, address delegate, bool approved) external;

    /// @notice Cancels the caller's unused quote nonce `nonce`.
    function invalidateNonce(uint256 nonce) external;

    /// @notice Whether `signer`'s quote nonce `nonce` is used or cancelled.
    function isNonceUsed(address signer, uint256 nonce) external view returns (bool);

    /// @notice Whether `delegate` may act for the current owner of `listingId` on that listing.
    function isDelegate(uint256 listingId, address delegate) external view returns (bool);

    /// @notice Withdrawable balance of `account`.
    function balanceOf(address account) external view returns (uint256);

    /// @notice keccak256(abi.encode(sale)) of open sale `saleId`, zero when none.
    function saleHash(bytes32 saleId) external view returns (bytes32);

    /// @notice The EIP-712 digest of `quote` in this escrow's domain (the sale id).
    function hashQuote(Quote calldata quote) external view returns (bytes32);
}
