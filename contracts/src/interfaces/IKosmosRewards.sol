// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Kosmos rewards
/// @notice Contributor rewards and pool payouts as Merkle distributions. A funder (the rewards reserve)
///         locks `total` tokens with a root; each leaf is
///         `keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))))` and can be claimed once.
interface IKosmosRewards {
    /// @notice Distribution `distributionId` was created and funded.
    event DistributionCreated(uint256 indexed distributionId, address indexed funder, bytes32 root, uint256 total);

    /// @notice Leaf `index` of `distributionId` paid `amount` to `account`.
    event Claimed(uint256 indexed distributionId, uint256 indexed index, address indexed account, uint256 amount);

    /// @notice The zero root cannot be used.
    error EmptyRoot();

    /// @notice No distribution with this id exists.
    error UnknownDistribution(uint256 distributionId);

    /// @notice Leaf `index` of `distributionId` was already claimed.
    error AlreadyClaimed(uint256 distributionId, uint256 index);

    /// @notice The proof does not prove the leaf against the distribution's root.
    error InvalidProof(uint256 distributionId, uint256 index);

    /// @notice Paying `amount` would exceed what is left of the distribution's funds.
    /// @param remaining Tokens left in the distribution.
    error DistributionExhausted(uint256 distributionId, uint256 remaining, uint256 amount);

    /// @notice Creates a distribution and pulls `total` tokens from the caller (approve first).
    /// @return distributionId Sequential id, starting at 1.
    function createDistribution(bytes32 root, uint256 total) external returns (uint256 distributionId);

    /// @notice Pays leaf `index` of `distributionId`; anyone may submit it, the tokens go to `account`.
    function claim(
        uint256 distributionId,
        uint256 index,
        address account,
        uint256 amount,
        bytes32[] calldata proof
    ) external;

    /// @notice Whether leaf `index` of `distributionId` was claimed.
    function isClaimed(uint256 distributionId, uint256 index) external view returns (bool);
}
