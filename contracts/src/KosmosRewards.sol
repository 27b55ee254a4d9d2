// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {IKosmosRewards} from "./interfaces/IKosmosRewards.sol";

/// @title Kosmos rewards
/// @notice Merkle distributions of contributor rewards, funded by transferFrom the funder.
contract KosmosRewards is IKosmosRewards {
    using SafeERC20 for IERC20;
    using BitMaps for BitMaps.BitMap;

    struct Distribution {
        bytes32 root;
        uint128 total;
        uint128 claimed;
    }

    /// @notice The reward token.
    IERC20 public immutable token;

    /// @notice Number of distributions created (the last id).
    uint256 public distributionCount;

    mapping(uint256 distributionId => Distribution) private _distributions;
    mapping(uint256 distributionId => BitMaps.BitMap) private _claimed;

    constructor(IERC20 token_) {
        token = token_;
    }

    /// @inheritdoc IKosmosRewards
    function createDistribution(bytes32 root, uint256 total) external returns (uint256 distributionId) {
        if (root == bytes32(0)) revert EmptyRoot();
        distributionId = ++distributionCount;
        if (total > type(uint128).max) revert DistributionExhausted(distributionId, type(uint128).max, total);
        _distributions[distributionId] = Distribution(root, uint128(total), 0);
        emit DistributionCreated(distributionId, msg.sender, root, total);
        token.safeTransferFrom(msg.sender, address(this), total);
    }

    /// @inheritdoc IKosmosRewards
    function claim(
        uint256 distributionId,
        uint256 index,
        address account,
        uint256 amount,
        bytes32[] calldata proof
    ) external {
        Distribution storage d = _distributions[distributionId];
        bytes32 root = d.root;
        if (root == bytes32(0)) revert UnknownDistribution(distributionId);
        if (_claimed[distributionId].get(index)) revert AlreadyClaimed(distributionId, index);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof(distributionId, index);
        uint256 remaining = d.total - d.claimed;
        if (amount > remaining) revert DistributionExhausted(distributionId, remaining, amount);
        d.claimed += uint128(amount);
        _claimed[distributionId].set(index);
        emit Claimed(distributionId, index, account, amount);
        token.safeTransfer(account, amount);
    }

    /// @inheritdoc IKosmosRewards
    function isClaimed(uint256 distributionId, uint256 index) external view returns (bool) {
        return _claimed[distributionId].get(index);
    }

    /// @notice Root, total funds and amount claimed of `distributionId`.
    function getDistribution(uint256 distributionId)
        external
        view
        returns (bytes32 root, uint256 total, uint256 claimed)
    {
        Distribution storage d = _distributions[distributionId];
        return (d.root, d.total, d.claimed);
    }
}
