// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IKosmosEscrow} from "./interfaces/IKosmosEscrow.sol";
import {IKosmosRegistry} from "./interfaces/IKosmosRegistry.sol";

/// @title Kosmos escrow
/// @notice The key sale; see {IKosmosEscrow}.
contract KosmosEscrow is EIP712, IKosmosEscrow {
    using SafeERC20 for IERC20;

    uint256 private constant BPS = 10_000;
    /// @dev Tag of the published commitment to kSale: keccak256(SALE_COMMIT_TAG ‖ kSale).
    bytes18 private constant SALE_COMMIT_TAG = "kosmos.sale.commit";
    /// @dev Tag of the pads: keccak256(SALE_PAD_TAG ‖ kSale ‖ uint256(i)).
    bytes15 private constant SALE_PAD_TAG = "kosmos.sale.pad";
    /// @dev abi.encode(Sale) is 11 words.
    uint256 private constant SALE_SIZE = 352;
    /// @dev Offsets of {Sale.disputeDeadline} and {Sale.disputedAt} in abi.encode(Sale).
    uint256 private constant DISPUTE_DEADLINE_WORD = 6 * 32;
    uint256 private constant DISPUTED_AT_WORD = 7 * 32;
    /// @dev Quote nonces below this live in the signer's {Account} slot, the rest in {_nonces}.
    uint256 private constant ACCOUNT_NONCES = 128;

    /// @notice EIP-712 type hash of {Quote}.
    bytes32 public constant QUOTE_TYPEHASH = keccak256(
        "Quote(uint256 listingId,address buyer,uint256 price,bytes32 zHash,bytes32 kSaleHash,bytes32 dekCommit,address gateway,uint256 nonce,uint256 deadline)"
    );

    /// @notice The payment token.
    IERC20 public immutable token;
    /// @notice The listing registry (an ERC-721: the owner of a listing is its seller); its arbiter rules
    ///         on disputes.
    IKosmosRegistry public immutable registry;
    /// @notice Receives the treasury share.
    address public immutable treasury;
    /// @notice Seconds the seller has to reveal after {open}.
    uint40 public immutable revealWindow;
    /// @notice Seconds the buyer has to complain or dispute after {reveal}.
    uint40 public immutable disputeWindow;
    /// @notice Seconds the arbiter has to rule after a {dispute} before anyone may {expireDispute}.
    uint40 public immutable arbitrationWindow;
    /// @notice Seller's share of the price in basis points.
    uint256 public immutable sellerBps;
    /// @notice Gateway's share of the price in basis points (to the treasury when there is no gateway).
    uint256 public immutable gatewayBps;

    /// @dev One storage slot per account, holding what a seller's first sale writes twice: the quote nonce
    ///      it uses (at open) and the payout it earns (at completion). Both in one slot, that sale fills one
    ///      empty slot (22,100 gas) instead of two.
    /// @param payout Payout balance, stored plus one once credited: 0 never credited, 1 nothing to
    ///        withdraw, n + 1 n tokens. Withdrawing leaves it at 1 instead of clearing it, so the next
    ///        credit rewrites a non-zero slot (5,000 gas) instead of filling an empty one (22,100).
    /// @param nonces Quote nonces 0 to 127 of this signer: bit n is nonce n.
    struct Account {
        uint128 payout;
        uint128 nonces;
    }

    mapping(bytes32 saleId => bytes32) private _sales;
    /// @dev Quote nonces from {ACCOUNT_NONCES} on: nonce n is bit n & 255 of word n >> 8 (bits 0 to 127
    ///      of word 0 stay unused).
    mapping(address owner => mapping(uint256 word => uint256)) private _nonces;
    mapping(address owner => mapping(uint256 listingId => mapping(address delegate => bool))) private _delegates;
    mapping(address account => Account) private _accounts;

    /// @notice Escrow parameters.
    /// @param treasuryBps Treasury's share; the three shares must add up to 10,000.
    struct Config {
        IERC20 token;
        IKosmosRegistry registry;
        address treasury;
        uint40 revealWindow;
        uint40 disputeWindow;
        uint40 arbitrationWindow;
        uint256 sellerBps;
        uint256 gatewayBps;
        uint256 treasuryBps;
    }

    constructor(Config memory config) EIP712("Kosmos Escrow", "1") {
        if (
            address(config.token) == address(0) || address(config.registry) == address(0)
                || config.treasury == address(0) || config.arbitrationWindow == 0 || config.sellerBps + config.gatewayBps + config.treasuryBps != BPS
        ) revert InvalidConfig();
        token = config.token;
        registry = config.registry;
        treasury = config.treasury;
        revealWindow = config.revealWindow;
        disputeWindow = config.disputeWindow;
        arbitrationWindow = config.arbitrationWindow;
        sellerBps = config.sellerBps;
        gatewayBps = config.gatewayBps;
        // Every completed sale credits the treasury: pay for its slot here rather than in the first sale.
        _accounts[config.treasury].payout = 1;
    }

    /// @inheritdoc IKosmosEscrow
    function open(Quote calldata quote, bytes calldata signature) external returns (bytes32 saleId) {
        saleId = _open(quote, signature);
    }

    /// @inheritdoc IKosmosEscrow
    function openWithPermit(
        Quote calldata quote,
        bytes calldata signature,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (bytes32 saleId) {
        try IERC20Permit(address(token)).permit(msg.sender, address(this), quote.price, permitDeadline, v, r, s) {}
            catch {}
        saleId = _open(quote, signature);
    }

    /// @inheritdoc IKosmosEscrow
    function reveal(bytes32 saleId, Sale calldata sale, bytes32 kSale) external {
        _requireSale(saleId, sale);
        if (msg.sender != sale.seller && !_delegates[sale.seller][sale.listingId][msg.sender]) {
            revert NotSeller(saleId, msg.sender);
        }
        if (sale.disputeDeadline != 0) revert AlreadyRevealed(saleId);
        if (block.timestamp > sale.revealDeadline) revert RevealDeadlinePassed(saleId, sale.revealDeadline);
        if (_commit(kSale) != sale.kSaleHash) revert WrongSaleKey(saleId);
        uint40 deadline = uint40(block.timestamp) + disputeWindow;
        _sales[saleId] = _hashSaleWith(sale, DISPUTE_DEADLINE_WORD, deadline);
        emit Revealed(saleId, kSale, deadline);
    }

    /// @inheritdoc IKosmosEscrow
    function confirm(bytes32 saleId, Sale calldata sale) external {
        _requireSale(saleId, sale);
        if (msg.sender != sale.buyer) revert NotBuyer(saleId, msg.sender);
        if (sale.disputeDeadline == 0) revert NotRevealed(saleId);
        if (sale.disputedAt != 0) revert SaleDisputed(saleId);
        _complete(saleId, sale, true);
    }

    /// @inheritdoc IKosmosEscrow
    function complain(bytes32 saleId, Sale calldata sale, bytes32 kSale, bytes calldata z) external {
        _requireSale(saleId, sale);
        if (msg.sender != sale.buyer) revert NotBuyer(saleId, msg.sender);
        if (sale.disputeDeadline == 0) revert NotRevealed(saleId);
        if (sale.disputedAt != 0) revert SaleDisputed(saleId);
        if (block.timestamp > sale.disputeDeadline) revert DisputeWindowClosed(saleId, sale.disputeDeadline);
        if (_commit(kSale) != sale.kSaleHash) revert WrongSaleKey(saleId);
        uint256 length = z.length;
        if (length == 0 || length % 32 != 0) revert InvalidZLength(length);
        if (keccak256(z) != sale.zHash) revert WrongZ(saleId);
        bytes32 padTag = bytes32(SALE_PAD_TAG);
        bytes32 dekHash;
        assembly ("memory-safe") {
            // DEK_i = Z_i ^ keccak256("kosmos.sale.pad" ‖ kSale ‖ uint256(i)), written over a copy of Z in
            // free memory; the 79-byte pad preimage sits right after it.
            let dek := mload(0x40)
            calldatacopy(dek, z.offset, length)
            let pre := add(dek, length)
            mstore(pre, padTag)
            mstore(add(pre, 15), kSale)
            for { let i := 0 } lt(i, div(length, 32)) { i := add(i, 1) } {
                mstore(add(pre, 47), i)
                let word := add(dek, mul(i, 32))
                mstore(word, xor(mload(word), keccak256(pre, 79)))
            }
            dekHash := keccak256(dek, length)
        }
        if (dekHash == sale.dekCommit) revert KeyIsValid(saleId);
        delete _sales[saleId];
        emit Refunded(saleId, sale.buyer, sale.price, RefundReason.WrongKey);
        token.safeTransfer(sale.buyer, sale.price);
    }

    /// @inheritdoc IKosmosEscrow
    function dispute(bytes32 saleId, Sale calldata sale, bytes32 evidenceHash) external {
        _requireSale(saleId, sale);
        if (msg.sender != sale.buyer) revert NotBuyer(saleId, msg.sender);
        if (sale.disputeDeadline == 0) revert NotRevealed(saleId);
        if (sale.disputedAt != 0) revert SaleDisputed(saleId);
        if (block.timestamp > sale.disputeDeadline) revert DisputeWindowClosed(saleId, sale.disputeDeadline);
        uint40 disputedAt = uint40(block.timestamp);
        _sales[saleId] = _hashSaleWith(sale, DISPUTED_AT_WORD, disputedAt);
        emit Disputed(saleId, sale.buyer, evidenceHash, disputedAt);
    }

    /// @inheritdoc IKosmosEscrow
    function resolveDispute(bytes32 saleId, Sale calldata sale, bool bad) external {
        _requireSale(saleId, sale);
        if (msg.sender != registry.arbiter()) revert NotArbiter(msg.sender);
        if (sale.disputedAt == 0) revert NotDisputed(saleId);
        emit DisputeResolved(saleId, bad, false);
        if (bad) {
            delete _sales[saleId];
            emit Refunded(saleId, sale.buyer, sale.price, RefundReason.BadData);
            token.safeTransfer(sale.buyer, sale.price);
        } else {
            _complete(saleId, sale, false);
        }
    }

    /// @inheritdoc IKosmosEscrow
    /// @dev Expiry pays the seller: after {reveal} the buyer holds a key the escrow verified against the
    ///      listing's commitment, so refunding on the arbiter's silence would let any buyer keep the data
    ///      for free by disputing. A buyer with bad data keeps the registry challenge on the listing stake.
    function expireDispute(bytes32 saleId, Sale calldata sale) external {
        _requireSale(saleId, sale);
        if (sale.disputedAt == 0) revert NotDisputed(saleId);
        uint256 deadline = uint256(sale.disputedAt) + arbitrationWindow;
        if (block.timestamp <= deadline) revert ArbitrationWindowOpen(saleId, deadline);
        emit DisputeResolved(saleId, false, true);
        _complete(saleId, sale, false);
    }

    /// @inheritdoc IKosmosEscrow
    function refund(bytes32 saleId, Sale calldata sale) external {
        _requireSale(saleId, sale);
        if (sale.disputeDeadline != 0) revert AlreadyRevealed(saleId);
        if (block.timestamp <= sale.revealDeadline) revert RevealDeadlineNotPassed(saleId, sale.revealDeadline);
        delete _sales[saleId];
        emit Refunded(saleId, sale.buyer, sale.price, RefundReason.NotRevealed);
        token.safeTransfer(sale.buyer, sale.price);
    }

    /// @inheritdoc IKosmosEscrow
    function finalize(bytes32 saleId, Sale calldata sale) external {
        _requireSale(saleId, sale);
        if (sale.disputeDeadline == 0) revert NotRevealed(saleId);
        if (sale.disputedAt != 0) revert SaleDisputed(saleId);
        if (block.timestamp <= sale.disputeDeadline) revert DisputeWindowOpen(saleId, sale.disputeDeadline);
        _complete(saleId, sale, false);
    }

    /// @inheritdoc IKosmosEscrow
    function withdraw() external {
        Account storage account = _accounts[msg.sender];
        uint256 stored = account.payout;
        if (stored <= 1) revert NothingToWithdraw(msg.sender);
        uint256 amount = stored - 1;
        account.payout = 1;
        emit Withdrawn(msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IKosmosEscrow
    function setDelegate(uint256 listingId, address delegate, bool approved) external {
        if (IERC721(address(registry)).ownerOf(listingId) != msg.sender) {
            revert NotListingOwner(listingId, msg.sender);
        }
        _delegates[msg.sender][listingId][delegate] = approved;
        emit DelegateSet(msg.sender, listingId, delegate, approved);
    }

    /// @inheritdoc IKosmosEscrow
    function invalidateNonce(uint256 nonce) external {
        _useNonce(msg.sender, nonce);
        emit NonceInvalidated(msg.sender, nonce);
    }

    /// @inheritdoc IKosmosEscrow
    function isNonceUsed(address signer, uint256 nonce) external view returns (bool) {
        if (nonce < ACCOUNT_NONCES) return _accounts[signer].nonces & (uint128(1) << uint8(nonce)) != 0;
        return _nonces[signer][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @inheritdoc IKosmosEscrow
    function isDelegate(uint256 listingId, address delegate) external view returns (bool) {
        try IERC721(address(registry)).ownerOf(listingId) returns (address owner) {
            return _delegates[owner][listingId][delegate];
        } catch {
            return false;
        }
    }

    /// @inheritdoc IKosmosEscrow
    function balanceOf(address account) external view returns (uint256) {
        uint256 stored = _accounts[account].payout;
        return stored == 0 ? 0 : stored - 1;
    }

    /// @inheritdoc IKosmosEscrow
    function saleHash(bytes32 saleId) external view returns (bytes32) {
        return _sales[saleId];
    }

    /// @inheritdoc IKosmosEscrow
    function hashQuote(Quote calldata quote) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(QUOTE_TYPEHASH, quote)));
    }

    /// @notice The EIP-712 domain separator of this chain and contract.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _open(Quote calldata quote, bytes calldata signature) private returns (bytes32 saleId) {
        if (block.timestamp > quote.deadline) revert QuoteExpired(quote.deadline);
        if (quote.buyer != msg.sender) revert WrongBuyer(quote.buyer, msg.sender);
        if (quote.price > type(uint96).max) revert PriceTooLarge(quote.price);
        saleId = hashQuote(quote);
        if (_sales[saleId] != bytes32(0)) revert SaleExists(saleId);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(saleId, signature);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature();
        uint256 listingId = quote.listingId;
        address owner = IERC721(address(registry)).ownerOf(listingId);
        if (signer != owner && !_delegates[owner][listingId][signer]) revert UnauthorizedSigner(signer, owner);
        // A stream listing commits to no key (0): each sale commits to its own epoch keys in the quote.
        bytes32 listed = registry.dekCommitOf(listingId);
        if (listed == bytes32(0) ? quote.dekCommit == bytes32(0) : quote.dekCommit != listed) {
            revert DekCommitMismatch(listingId);
        }
        _useNonce(signer, quote.nonce);
        uint256 revealDeadline = uint40(block.timestamp) + revealWindow;
        address gateway = quote.gateway;
        bytes32 topic0 = Opened.selector;
        bytes32 hash;
        assembly ("memory-safe") {
            // abi.encode(Sale), built once for its hash and as the data of Opened(saleId, listingId, buyer,
            // sale): listingId, buyer, seller, gateway, price, revealDeadline, disputeDeadline = 0,
            // disputedAt = 0, then zHash, kSaleHash, dekCommit copied from the quote (words 3 to 5).
            let ptr := mload(0x40)
            mstore(ptr, listingId)
            mstore(add(ptr, 0x20), caller())
            mstore(add(ptr, 0x40), owner)
            mstore(add(ptr, 0x60), gateway)
            mstore(add(ptr, 0x80), calldataload(add(quote, 0x40)))
            mstore(add(ptr, 0xa0), revealDeadline)
            mstore(add(ptr, 0xc0), 0)
            mstore(add(ptr, 0xe0), 0)
            calldatacopy(add(ptr, 0x100), add(quote, 0x60), 0x60)
            hash := keccak256(ptr, SALE_SIZE)
            log4(ptr, SALE_SIZE, topic0, saleId, listingId, caller())
        }
        _sales[saleId] = hash;
        token.safeTransferFrom(msg.sender, address(this), quote.price);
    }

    function _complete(bytes32 saleId, Sale calldata sale, bool confirmed) private {
        delete _sales[saleId];
        uint256 price = sale.price;
        uint256 toSeller = price * sellerBps / BPS;
        uint256 toGateway = sale.gateway == address(0) ? 0 : price * gatewayBps / BPS;
        uint256 toTreasury = price - toSeller - toGateway;
        if (toSeller != 0) _credit(sale.seller, toSeller);
        if (toGateway != 0) _credit(sale.gateway, toGateway);
        if (toTreasury != 0) _credit(treasury, toTreasury);
        emit Completed(saleId, confirmed, toSeller, toGateway, toTreasury);
    }

    /// @dev `amount` is a share of a price, at most 2^96 - 1 (checked in {_open}); the sum reverts when it
    ///      does not fit 128 bits.
    function _credit(address account, uint256 amount) private {
        Account storage a = _accounts[account];
        uint128 stored = a.payout;
        a.payout = (stored == 0 ? 1 : stored) + uint128(amount);
    }

    function _useNonce(address signer, uint256 nonce) private {
        if (nonce < ACCOUNT_NONCES) {
            Account storage account = _accounts[signer];
            uint128 used = account.nonces;
            uint128 mask = uint128(1) << uint8(nonce);
            if (used & mask != 0) revert NonceUsed(signer, nonce);
            account.nonces = used | mask;
            return;
        }
        uint256 bit = 1 << (nonce & 0xff);
        uint256 word = _nonces[signer][nonce >> 8];
        if (word & bit != 0) revert NonceUsed(signer, nonce);
        _nonces[signer][nonce >> 8] = word | bit;
    }

    /// @dev The published commitment to `kSale`; never equal to a pad (different tag and length).
    function _commit(bytes32 kSale) private pure returns (bytes32) {
        return keccak256(abi.encodePacked(SALE_COMMIT_TAG, kSale));
    }

    /// @dev keccak256(abi.encode(sale)) with the word at `offset` replaced by `value`, hashed straight from
    ///      calldata. Only called after {_requireSale}: the bytes hash to a stored abi.encode, so they are clean.
    function _hashSaleWith(Sale calldata sale, uint256 offset, uint256 value) private pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, sale, SALE_SIZE)
            mstore(add(ptr, offset), value)
            hash := keccak256(ptr, SALE_SIZE)
        }
    }

    function _requireSale(bytes32 saleId, Sale calldata sale) private view {
        bytes32 stored = _sales[saleId];
        bytes32 given;
        assembly ("memory-safe") {
            // Sale is a static struct: its calldata bytes are its abi.encode.
            let ptr := mload(0x40)
            calldatacopy(ptr, sale, SALE_SIZE)
            given := keccak256(ptr, SALE_SIZE)
        }
        if (stored == bytes32(0) || stored != given) revert UnknownSale(saleId);
    }
}
