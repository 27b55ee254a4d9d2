// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IKosmosEscrow} from "./interfaces/IKosmosEscrow.sol";
import {IKosmosPools} from "./interfaces/IKosmosPools.sol";
import {IKosmosRegistry} from "./interfaces/IKosmosRegistry.sol";
import {IKosmosRewards} from "./interfaces/IKosmosRewards.sol";

/// @title Kosmos pools
/// @notice Data unions whose sales are paid to their contributors through rewards distributions; see
///         {IKosmosPools}.
contract KosmosPools is IKosmosPools {
    using SafeERC20 for IERC20;

    uint256 private constant BPS = 10_000;

    /// @inheritdoc IKosmosPools
    uint16 public constant MAX_FEE_BPS = 5000;

    /// @inheritdoc IKosmosPools
    uint256 public constant MAX_CONTRIBUTORS = 256;

    /// @notice The token sales are paid in.
    IERC20 public immutable token;

    /// @notice The registry whose listings are versions.
    IKosmosRegistry public immutable registry;

    /// @notice The escrow whose sales are distributed.
    IKosmosEscrow public immutable escrow;

    /// @notice The rewards contract distributions are created on.
    IKosmosRewards public immutable rewards;

    /// @notice Number of pools created (the last id).
    uint256 public poolCount;

    mapping(uint256 poolId => Pool) private _pools;
    mapping(uint256 listingId => Version) private _versions;
    mapping(bytes32 saleId => uint256 distributionId) private _saleDistributions;

    constructor(IERC20 token_, IKosmosRegistry registry_, IKosmosEscrow escrow_, IKosmosRewards rewards_) {
        token = token_;
        registry = registry_;
        escrow = escrow_;
        rewards = rewards_;
        // The rewards contract pulls each distribution's total from here; OpenZeppelin's ERC-20 never lowers
        // an infinite allowance.
        token_.forceApprove(address(rewards_), type(uint256).max);
    }

    /// @inheritdoc IKosmosPools
    function createPool(bytes32 termsHash, uint16 feeBps) external returns (uint256 poolId) {
        if (termsHash == bytes32(0)) revert EmptyTerms();
        if (feeBps > MAX_FEE_BPS) revert FeeTooHigh(feeBps, MAX_FEE_BPS);
        poolId = ++poolCount;
        _pools[poolId] = Pool(msg.sender, feeBps, uint64(block.timestamp), termsHash);
        emit PoolCreated(poolId, msg.sender, termsHash, feeBps);
    }

    /// @inheritdoc IKosmosPools
    function registerVersion(
        uint256 poolId,
        uint256 listingId,
        address[] calldata contributors,
        uint64[] calldata rows
    ) external {
        address operator = _pools[poolId].operator;
        if (operator == address(0)) revert UnknownPool(poolId);
        if (operator != msg.sender) revert NotOperator(poolId, operator, msg.sender);
        address owner = IERC721(address(registry)).ownerOf(listingId);
        if (owner != msg.sender) revert NotListingOwner(listingId, owner, msg.sender);
        uint256 existing = _versions[listingId].poolId;
        if (existing != 0) revert VersionExists(listingId, existing);
        uint256 count = contributors.length;
        if (count != rows.length) revert LengthMismatch(count, rows.length);
        if (count == 0 || count > MAX_CONTRIBUTORS) revert BadContributorCount(count, MAX_CONTRIBUTORS);
        uint256 totalRows;
        address previous;
        for (uint256 i = 0; i < count; ++i) {
            address contributor = contributors[i];
            // Strictly increasing (and so non-zero and unique) in one pass.
            if (contributor <= previous) revert ContributorsNotSorted(i, contributor);
            if (rows[i] == 0) revert NoRows(i, contributor);
            totalRows += rows[i];
            previous = contributor;
        }
        // poolId <= poolCount, which no chain counts past 2^64; totalRows < 256 * 2^64 fits 96 bits.
        _versions[listingId] = Version(
            uint64(poolId),
            uint32(count),
            uint40(block.timestamp),
            uint96(totalRows),
            keccak256(abi.encode(contributors, rows))
        );
        emit VersionRegistered(poolId, listingId, contributors, rows);
    }

    /// @inheritdoc IKosmosPools
    function distributeSale(bytes32 saleId, uint256 listingId, uint256 toSeller, bytes32 root, uint256 total)
        external
        returns (uint256 distributionId)
    {
        uint256 poolId = _versions[listingId].poolId;
        if (poolId == 0) revert UnknownVersion(listingId);
        Pool storage pool = _pools[poolId];
        address operator = pool.operator;
        if (operator != msg.sender) revert NotOperator(poolId, operator, msg.sender);
        uint256 done = _saleDistributions[saleId];
        if (done != 0) revert SaleAlreadyDistributed(saleId, done);
        if (escrow.saleHash(saleId) != bytes32(0)) revert SaleNotSettled(saleId);
        uint256 fee = toSeller * pool.feeBps / BPS;
        if (total != toSeller - fee) revert WrongTotal(toSeller - fee, total);
        token.safeTransferFrom(msg.sender, address(this), total);
        distributionId = rewards.createDistribution(root, total);
        _saleDistributions[saleId] = distributionId;
        emit SaleDistributed(poolId, saleId, listingId, distributionId, toSeller, fee, total);
    }

    /// @inheritdoc IKosmosPools
    function getPool(uint256 poolId) external view returns (Pool memory) {
        Pool memory pool = _pools[poolId];
        if (pool.operator == address(0)) revert UnknownPool(poolId);
        return pool;
    }

    /// @inheritdoc IKosmosPools
    function getVersion(uint256 listingId) external view returns (Version memory) {
        return _versions[listingId];
    }

    /// @inheritdoc IKosmosPools
    function saleDistribution(bytes32 saleId) external view returns (uint256) {
        return _saleDistributions[saleId];
    }
}
