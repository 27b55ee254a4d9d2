// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Kosmos mining
/// @notice A fixed reward schedule paid from this contract's allocation of the token supply (minted to it
///         when the token was deployed; the token has no mint). Epoch `e` covers
///         `[start + e * epochLength, start + (e + 1) * epochLength)` and pays at most
///         `epochReward(e) = initialReward >> (e / halvingEpochs)`. The constructor checks that the sum over
///         all epochs, `halvingEpochs * Σ_k (initialReward >> k)`, fits the allocation, so the schedule can
///         never pay more than the contract holds. After an epoch ends, the distributor publishes it once as
///         a Merkle distribution on the rewards contract: the epoch's reward split pro rata to the rows of
///         pool versions sold in that epoch (escrow `Completed` sales of versions registered on the pools
///         contract), which anyone can recompute from chain events.
interface IKosmosMining {
    /// @notice Epoch `epoch` became distribution `distributionId` of `total` tokens.
    event EpochPublished(uint256 indexed epoch, uint256 indexed distributionId, bytes32 root, uint256 total);

    /// @notice Zero distributor, epoch length, initial reward or halving period.
    error InvalidSchedule();

    /// @notice The schedule's sum over all epochs exceeds the tokens this contract holds.
    error ScheduleExceedsAllocation(uint256 allocation);

    /// @notice Only the distributor may publish epochs.
    error NotDistributor(address caller);

    /// @notice The epoch has not ended yet.
    error EpochNotEnded(uint256 epoch, uint256 end);

    /// @notice The epoch was already published, as `distributionId`.
    error EpochAlreadyPublished(uint256 epoch, uint256 distributionId);

    /// @notice `total` is above the epoch's reward.
    error RewardExceeded(uint256 epoch, uint256 reward, uint256 total);

    /// @notice Mining starts at `start`; there is no current epoch before.
    error MiningNotStarted(uint256 start);

    /// @notice Publishes ended epoch `epoch` with `root`, moving `total` tokens (at most
    ///         {epochReward}(epoch)) into a rewards distribution. Distributor only, once per epoch.
    /// @return distributionId The rewards contract's distribution id.
    function publishEpoch(uint256 epoch, bytes32 root, uint256 total) external returns (uint256 distributionId);

    /// @notice The most epoch `epoch` may pay: `initialReward >> (epoch / halvingEpochs)`.
    function epochReward(uint256 epoch) external view returns (uint256);

    /// @notice The epoch the current block is in; reverts {MiningNotStarted} before `start`.
    function currentEpoch() external view returns (uint256);

    /// @notice First timestamp after epoch `epoch`: `start + (epoch + 1) * epochLength`.
    function epochEnd(uint256 epoch) external view returns (uint256);

    /// @notice Whether epoch `epoch` was published.
    function published(uint256 epoch) external view returns (bool);

    /// @notice The distribution epoch `epoch` became; 0 when not published.
    function epochDistribution(uint256 epoch) external view returns (uint256);

    /// @notice Timestamp epoch 0 starts at.
    function start() external view returns (uint64);

    /// @notice Seconds per epoch.
    function epochLength() external view returns (uint64);

    /// @notice Reward of the epochs before the first halving.
    function initialReward() external view returns (uint256);

    /// @notice Epochs between two halvings.
    function halvingEpochs() external view returns (uint64);

    /// @notice Tokens the contract held when deployed; the schedule's sum never exceeds it.
    function allocation() external view returns (uint256);

    /// @notice Who may publish epochs.
    function distributor() external view returns (address);
}
