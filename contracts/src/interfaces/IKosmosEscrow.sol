// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Kosmos escrow: the key sale
/// @notice Payment and key delivery as one exchange, no party trusted.
///
/// 1. Off chain, the seller (the listing's owner, or a delegate it approved with {setDelegate}) signs an
///    EIP-712 {Quote} in the domain ("Kosmos Escrow", "1", chain id, this contract) and gives the buyer
///    `Z = DEK ⊕ keccak256(kSale)` for a fresh one-time 32-byte `kSale`.
/// 2. The buyer checks the quote (its `dekCommit` is the manifest's `keccak256(DEK)`, `zHash` is
///    `keccak256(Z)`) and calls {open}: the price is locked and the sale is recorded. The sale id is the
///    quote's EIP-712 digest; quote nonces are single-use per listing owner (number them sequentially:
///    256 nonces share one storage word).
/// 3. The seller calls {reveal} with `kSale` before the reveal deadline.
/// 4. The buyer computes `DEK = Z ⊕ keccak256(kSale)`, checks `keccak256(DEK)` against the manifest and
///    calls {confirm}, or, before the dispute deadline, {complain}s with `Z`: the escrow refunds the
///    buyer iff `keccak256(Z) == zHash` and `keccak256(Z ⊕ pad) != dekCommit`.
/// 5. Without a reveal, anyone may {refund} the buyer after the reveal deadline; without a complaint,
///    anyone may {finalize} after the dispute deadline. Confirm and finalize credit the price split
///    (seller / gateway / treasury in basis points, the gateway's share to the treasury when there is no
///    gateway, rounding dust to the treasury) to balances paid out by {withdraw}.
///
/// Batches (stream subscriptions): one quote may sell `n` epoch keys. Then
/// `Z = Z_0 ‖ … ‖ Z_{n-1}` with `Z_i = DEK_i ⊕ keccak256(bytes32(uint256(kSale) ^ i))` and
/// `dekCommit = keccak256(DEK_0 ‖ … ‖ DEK_{n-1})`. For `n = 1` this is exactly the single-key sale
/// (`Z = DEK ⊕ keccak256(kSale)`, `dekCommit = keccak256(DEK)`). Each word has its own pad, so the words
/// of Z reveal nothing about each other; `zHash = keccak256(Z)` fixes `n` and the buyer checks `n` and
/// every `keccak256(DEK_i)` against the epoch manifests off chain. A complaint refunds the whole batch
/// when any word is wrong.
///
/// Storage: a sale is kept as one word, `keccak256(abi.encode(sale))`, and every later call passes the
/// {Sale} back (it is in the {Opened} event; {Revealed} gives the `disputeDeadline` to set). This keeps
/// an honest sale (open + reveal + confirm) well under 250,000 gas.
interface IKosmosEscrow {
    /// @notice What the seller signs. All hashes are keccak256.
    /// @param listingId The registry listing sold.
    /// @param buyer The only account that may open the sale.
    /// @param price Tokens to lock.
    /// @param zHash keccak256(Z).
    /// @param kSaleHash keccak256(kSale), kSale as 32 bytes.
    /// @param dekCommit keccak256 of the DEK (of the concatenated DEKs for a batch).
    /// @param gateway The node that brokered the sale, paid its share; zero for none.
    /// @param nonce Single use per listing owner.
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
    /// @param buyer Who locked the price.
    /// @param seller The listing owner when the sale was opened; paid on completion.
    /// @param gateway Paid its share on completion; zero for none.
    /// @param price Tokens locked.
    /// @param revealDeadline Last timestamp for {reveal}.
    /// @param disputeDeadline 0 until revealed, then the last timestamp for {complain}.
    struct Sale {
        address buyer;
        address seller;
        address gateway;
        uint96 price;
        uint40 revealDeadline;
        uint40 disputeDeadline;
        bytes32 zHash;
        bytes32 kSaleHash;
        bytes32 dekCommit;
    }

    /// @notice The buyer opened sale `saleId` (the quote digest) of `listingId`, locking `sale.price`.
    event Opened(bytes32 indexed saleId, uint256 indexed listingId, address indexed buyer, Sale sale);

    /// @notice The seller revealed `kSale`; the buyer may complain until `disputeDeadline`.
    event Revealed(bytes32 indexed saleId, bytes32 kSale, uint40 disputeDeadline);

    /// @notice Sale `saleId` completed: the amounts were credited to seller, gateway and treasury.
    /// @param confirmed True when the buyer confirmed, false when finalized after the dispute window.
    event Completed(
        bytes32 indexed saleId, bool confirmed, uint256 toSeller, uint256 toGateway, uint256 toTreasury
    );

    /// @notice Sale `saleId` was refunded to `buyer`.
    /// @param complained True after a successful complaint, false after a missed reveal deadline.
    event Refunded(bytes32 indexed saleId, address indexed buyer, uint256 amount, bool complained);

    /// @notice `owner` approved or removed `delegate` to sign quotes and reveal keys for it.
    event DelegateSet(address indexed owner, address indexed delegate, bool approved);

    /// @notice `owner` cancelled quote nonce `nonce` before use.
    event NonceInvalidated(address indexed owner, uint256 nonce);

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

    /// @notice `signer` is neither the listing owner `owner` nor one of its delegates. Also what a quote
    ///         signed for another chain or another escrow gives, since its digest differs.
    error UnauthorizedSigner(address signer, address owner);

    /// @notice `owner`'s quote nonce `nonce` was already used or cancelled.
    error NonceUsed(address owner, uint256 nonce);

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

    /// @notice keccak256(kSale) differs from the sale's kSaleHash.
    error WrongSaleKey(bytes32 saleId);

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

    /// @notice Reveals `kSale` (seller or delegate, until the reveal deadline); starts the dispute window.
    function reveal(bytes32 saleId, Sale calldata sale, bytes32 kSale) external;

    /// @notice The buyer accepts the revealed key; pays out.
    function confirm(bytes32 saleId, Sale calldata sale) external;

    /// @notice The buyer proves the revealed key wrong with `z` before the dispute deadline; refunds the
    ///         buyer. `kSale` is the revealed key (from {Revealed}). Reverts {KeyIsValid} for a good key.
    function complain(bytes32 saleId, Sale calldata sale, bytes32 kSale, bytes calldata z) external;

    /// @notice Refunds the buyer when the key was not revealed by the reveal deadline (anyone may call).
    function refund(bytes32 saleId, Sale calldata sale) external;

    /// @notice Pays out after the dispute window without complaint (anyone may call).
    function finalize(bytes32 saleId, Sale calldata sale) external;

    /// @notice Pays the caller's whole balance.
    function withdraw() external;

    /// @notice Approves or removes `delegate` to sign quotes and reveal keys for the caller's listings.
    function setDelegate(address delegate, bool approved) external;

    /// @notice Cancels the caller's unused quote nonce `nonce`.
    function invalidateNonce(uint256 nonce) external;

    /// @notice Whether `owner`'s quote nonce `nonce` is used or cancelled.
    function isNonceUsed(address owner, uint256 nonce) external view returns (bool);

    /// @notice Whether `delegate` may act for `owner`.
    function isDelegate(address owner, address delegate) external view returns (bool);

    /// @notice Withdrawable balance of `account`.
    function balanceOf(address account) external view returns (uint256);

    /// @notice keccak256(abi.encode(sale)) of open sale `saleId`, zero when none.
    function saleHash(bytes32 saleId) external view returns (bytes32);

    /// @notice The EIP-712 digest of `quote` in this escrow's domain (the sale id).
    function hashQuote(Quote calldata quote) external view returns (bytes32);
}
