// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IKosmosMining} from "./interfaces/IKosmosMining.sol";
import {IKosmosRewards} from "./interfaces/IKosmosRewards.sol";

/// @title Kosmos mining
/// @notice The token's mining schedule, paid per epoch through rewards distributions; see {IKosmosMining}.
contract KosmosMining is IKosmosMining {
    using SafeERC20 for IERC20;

    /// @notice The token mined.
    IERC20 public immutable token;

    /// @notice The rewards contract epochs are published on.
    IKosmosRewards public immutable rewards;

    /// @inheritdoc IKosmosMining
    address public immutable distributor;

    /// @inheritdoc IKosmosMining
    uint64 public immutable start;

    /// @inheritdoc IKosmosMining
    uint64 public immutable epochLength;

    /// @inheritdoc IKosmosMining
    uint256 public immutable initialReward;

    /// @inheritdoc IKosmosMining
    uint64 public immutable halvingEpochs;

    /// @inheritdoc IKosmosMining
    uint256 public immutable allocation;

    mapping(uint256 epoch => uint256 distributionId) private _distributions;

    /// @notice Mining schedule.
    /// @param start Timestamp of epoch 0; 0 for the deployment block's time.
    struct Schedule {
        address distributor;
        uint64 start;
        uint64 epochLength;
        uint256 initialReward;
        uint64 halvingEpochs;
    }

    /// @dev The allocation is what the token minted to this address before it was deployed.
    constructor(IERC20 token_, IKosmosRewards rewards_, Schedule memory schedule) {
        if (
            schedule.distributor == address(0) || schedule.epochLength == 0 || schedule.initialReward == 0
                || schedule.halvingEpochs == 0
        ) revert InvalidSchedule();
        uint256 held = token_.balanceOf(address(this));
        // Σ over all epochs = halvingEpochs * Σ_k (initialReward >> k). Each term is checked against what is
        // left, so nothing overflows.
        uint256 left = held;
        for (uint256 reward = schedule.initialReward; reward != 0; reward >>= 1) {
            if (reward > left / schedule.halvingEpochs) revert ScheduleExceedsAllocation(held);
            left -= reward * schedule.halvingEpochs;
        }
        token = token_;
        rewards = rewards_;
        distributor = schedule.distributor;
        start = schedule.start == 0 ? uint64(block.timestamp) : schedule.start;
        epochLength = schedule.epochLength;
        initialReward = schedule.initialReward;
        halvingEpochs = schedule.halvingEpochs;
        allocation = held;
        token_.forceApprove(address(rewards_), type(uint256).max);
    }

    /// @inheritdoc IKosmosMining
    function publishEpoch(uint256 epoch, bytes32 root, uint256 total) external returns (uint256 distributionId) {
        if (msg.sender != distributor) revert NotDistributor(msg.sender);
        // Ended when epoch < (now - start) / epochLength: no multiplication, so no overflow for any epoch.
        if (block.timestamp < start || epoch >= (block.timestamp - start) / epochLength) {
            revert EpochNotEnded(epoch, _end(epoch));
        }
        uint256 done = _distributions[epoch];
        if (done != 0) revert EpochAlreadyPublished(epoch, done);
        uint256 reward = epochReward(epoch);
        if (total > reward) revert RewardExceeded(epoch, reward, total);
        distributionId = rewards.createDistribution(root, total);
        _distributions[epoch] = distributionId;
        emit EpochPublished(epoch, distributionId, root, total);
    }

    /// @inheritdoc IKosmosMining
    function epochReward(uint256 epoch) public view returns (uint256) {
        uint256 halvings = epoch / halvingEpochs;
        return halvings >= 256 ? 0 : initialReward >> halvings;
    }

    /// @inheritdoc IKosmosMining
    function currentEpoch() external view returns (uint256) {
        if (block.timestamp < start) revert MiningNotStarted(start);
        return (block.timestamp - start) / epochLength;
    }

    /// @inheritdoc IKosmosMining
    function epochEnd(uint256 epoch) external view returns (uint256) {
        return _end(epoch);
    }

    /// @inheritdoc IKosmosMining
    function published(uint256 epoch) external view returns (bool) {
        return _distributions[epoch] != 0;
    }

    /// @inheritdoc IKosmosMining
    function epochDistribution(uint256 epoch) external view returns (uint256) {
        return _distributions[epoch];
    }

    /// @dev Saturates at the largest uint256 for epochs too far to be reached.
    function _end(uint256 epoch) private view returns (uint256) {
        if (epoch >= type(uint192).max) return type(uint256).max;
        return uint256(start) + (epoch + 1) * epochLength;
    }
}
