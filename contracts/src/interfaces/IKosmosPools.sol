// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Kosmos pools
/// @notice Data unions: many contributors sell as one. An operator creates a pool with the hash of its
///         signed terms and its fee, registers each version it publishes (a registry listing it owns) with
///         the contributors and the rows each released, and turns every sale of a version into a Merkle
///         distribution on the rewards contract: the seller share minus the fee, pro rata to the rows.
///
/// What is checked on chain and what off chain: the escrow forgets a sale once it completes, so
/// {distributeSale} cannot read the sale back. The operator passes the sale's `listingId` and its
/// `toSeller` (escrow `Opened` and `Completed` events); the contract checks that the listing is a version of
/// a pool the caller operates, that the sale is no longer open in the escrow, that the sale was not
/// distributed before, and that `total == toSeller - toSeller * feeBps / 10000`. Contributors recompute the
/// leaves from chain events (`VersionRegistered` rows, `Completed.toSeller`, the pool's `feeBps`) and check
/// the `SaleDistributed` and `DistributionCreated` values against them.
///
/// A version is stored as a commitment, `keccak256(abi.encode(contributors, rows))`, with its totals; the
/// lists themselves are in {VersionRegistered}.
interface IKosmosPools {
    /// @notice A pool's terms and operator.
    /// @param operator Who created the pool; registers versions and distributes sales.
    /// @param feeBps The operator's share of each sale's seller share, in basis points.
    /// @param createdAt Block time of {createPool}.
    /// @param termsHash keccak256 of the canonical JSON of the signed terms.
    struct Pool {
        address operator;
        uint16 feeBps;
        uint64 createdAt;
        bytes32 termsHash;
    }

    /// @notice One published version of a pool, in two storage slots.
    /// @param poolId The pool (0 when the listing is no version).
    /// @param contributorCount Number of contributors.
    /// @param registeredAt Block time of {registerVersion}.
    /// @param totalRows Sum of the rows (at most 256 × (2^64 - 1), so it fits 96 bits).
    /// @param contributorsHash keccak256(abi.encode(contributors, rows)).
    struct Version {
        uint64 poolId;
        uint32 contributorCount;
        uint40 registeredAt;
        uint96 totalRows;
        bytes32 contributorsHash;
    }

    /// @notice `operator` created pool `poolId` with terms `termsHash` and fee `feeBps`.
    event PoolCreated(uint256 indexed poolId, address indexed operator, bytes32 termsHash, uint16 feeBps);

    /// @notice Listing `listingId` is a version of `poolId`; `rows[i]` rows are `contributors[i]`'s.
    event VersionRegistered(uint256 indexed poolId, uint256 indexed listingId, address[] contributors, uint64[] rows);

    /// @notice Sale `saleId` of version `listingId` became distribution `distributionId` of `total` tokens.
    /// @param sellerShare The sale's `toSeller` as the operator declared it.
    /// @param fee `sellerShare * feeBps / 10000`, kept by the operator.
    event SaleDistributed(
        uint256 indexed poolId,
        bytes32 indexed saleId,
        uint256 indexed listingId,
        uint256 distributionId,
        uint256 sellerShare,
        uint256 fee,
        uint256 total
    );

    /// @notice The zero terms hash cannot be used.
    error EmptyTerms();

    /// @notice The fee is above {MAX_FEE_BPS}.
    error FeeTooHigh(uint16 feeBps, uint16 maxFeeBps);

    /// @notice No pool with this id exists.
    error UnknownPool(uint256 poolId);

    /// @notice Only the pool's operator may do this.
    error NotOperator(uint256 poolId, address operator, address caller);

    /// @notice The listing is not owned by the pool's operator in the registry.
    error NotListingOwner(uint256 listingId, address owner, address caller);

    /// @notice The listing is already a version of pool `poolId`.
    error VersionExists(uint256 listingId, uint256 poolId);

    /// @notice The listing is no version of any pool.
    error UnknownVersion(uint256 listingId);

    /// @notice `contributors` and `rows` differ in length.
    error LengthMismatch(uint256 contributors, uint256 rows);

    /// @notice A version needs between 1 and {MAX_CONTRIBUTORS} contributors.
    error BadContributorCount(uint256 count, uint256 max);

    /// @notice Contributors must be non-zero and in strictly increasing address order (so none repeats).
    error ContributorsNotSorted(uint256 index, address contributor);

    /// @notice Every contributor must have released at least one row.
    error NoRows(uint256 index, address contributor);

    /// @notice The sale was already distributed, as `distributionId`.
    error SaleAlreadyDistributed(bytes32 saleId, uint256 distributionId);

    /// @notice The sale is still open in the escrow (not completed, or refundable).
    error SaleNotSettled(bytes32 saleId);

    /// @notice `total` is not the seller share minus the fee.
    error WrongTotal(uint256 expected, uint256 total);

    /// @notice Largest operator fee, in basis points (50 %).
    function MAX_FEE_BPS() external view returns (uint16);

    /// @notice Most contributors of one version.
    function MAX_CONTRIBUTORS() external view returns (uint256);

    /// @notice Creates a pool operated by the caller.
    /// @param termsHash keccak256 of the canonical JSON of the pool's signed terms.
    /// @param feeBps The operator's fee on every sale's seller share, at most {MAX_FEE_BPS}.
    /// @return poolId Sequential id, starting at 1.
    function createPool(bytes32 termsHash, uint16 feeBps) external returns (uint256 poolId);

    /// @notice Registers listing `listingId` (owned by the caller in the registry) as a version of `poolId`.
    /// @param contributors Strictly increasing addresses, 1 to {MAX_CONTRIBUTORS} of them.
    /// @param rows Rows each contributor released (after suppression), each at least 1.
    function registerVersion(uint256 poolId, uint256 listingId, address[] calldata contributors, uint64[] calldata rows)
        external;

    /// @notice Turns sale `saleId` of version `listingId` into a rewards distribution with `root`, pulling
    ///         `total` tokens from the operator (approve this contract first).
    /// @param toSeller The sale's seller share (escrow `Completed.toSeller`).
    /// @param total `toSeller - toSeller * feeBps / 10000`.
    /// @return distributionId The rewards contract's distribution id.
    function distributeSale(bytes32 saleId, uint256 listingId, uint256 toSeller, bytes32 root, uint256 total)
        external
        returns (uint256 distributionId);

    /// @notice Pool `poolId`; reverts {UnknownPool} when there is none.
    function getPool(uint256 poolId) external view returns (Pool memory);

    /// @notice The version registered for `listingId`; `poolId` is 0 when there is none.
    function getVersion(uint256 listingId) external view returns (Version memory);

    /// @notice The distribution sale `saleId` became; 0 when not distributed.
    function saleDistribution(bytes32 saleId) external view returns (uint256);
}
