// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Kosmos registry
/// @notice Dataset and stream listings as ERC-721 ownership tokens bound to a manifest CID. Listing
///         locks a stake; anyone may challenge a listing with a stake of their own; once a listing has
///         `challengeThreshold` open challenges the arbiter resolves them:
///         - bad listing: the listing stake is split between the challengers (pro rata to their
///           challenge stakes, `challengerBps` of it) and the treasury (the rest, including rounding
///           dust); challengers get their own stakes back; the listing is burned.
///         - good listing: the challengers' stakes go to the listing owner (`listerBps`) and the
///           treasury (the rest, including dust).
///         Stakes are exactly conserved: the registry's token balance always equals the sum of the
///         listing stakes and open challenge stakes.
interface IKosmosRegistry {
    /// @notice What a listing sells.
    enum Kind {
        Dataset,
        Stream
    }

    /// @notice A listing's state (the owner is the ERC-721 owner).
    /// @param stake Tokens staked on the listing.
    /// @param withdrawableAt When a requested withdrawal may be executed; 0 when none was requested.
    /// @param challengeCount Open challenges.
    /// @param kind Dataset or stream.
    /// @param cid Binary CID of the signed manifest.
    struct Listing {
        uint96 stake;
        uint40 withdrawableAt;
        uint16 challengeCount;
        Kind kind;
        bytes cid;
    }

    /// @notice One open challenge.
    struct Challenge {
        address challenger;
        uint96 amount;
    }

    /// @notice `listingId` was minted to `owner` for manifest `cid` with `stake` tokens.
    event Listed(uint256 indexed listingId, address indexed owner, Kind kind, bytes cid, uint256 stake);

    /// @notice `amount` tokens were added to the stake of `listingId`, now `stake`.
    event StakeAdded(uint256 indexed listingId, uint256 amount, uint256 stake);

    /// @notice The owner asked to withdraw the stake of `listingId`, possible from `withdrawableAt`.
    event WithdrawalRequested(uint256 indexed listingId, uint64 withdrawableAt);

    /// @notice The stake of `listingId` (`amount`) went back to `owner` and the listing was burned.
    event Withdrawn(uint256 indexed listingId, address indexed owner, uint256 amount);

    /// @notice `challenger` challenged `listingId` with `amount`; the listing now has `count` open challenges.
    event Challenged(uint256 indexed listingId, address indexed challenger, uint256 amount, uint256 count);

    /// @notice The arbiter resolved the open challenges of `listingId`.
    /// @param bad True when the listing was found bad (and burned).
    /// @param toChallengers Tokens paid to the challengers, their own stakes included.
    /// @param toOwner Tokens paid to the listing owner (good listing only).
    /// @param toTreasury Tokens paid to the treasury.
    event Resolved(uint256 indexed listingId, bool bad, uint256 toChallengers, uint256 toOwner, uint256 toTreasury);

    /// @notice A stake below the minimum.
    error StakeTooLow(uint256 amount, uint256 minimum);

    /// @notice A challenge stake below the minimum.
    error ChallengeStakeTooLow(uint256 amount, uint256 minimum);

    /// @notice An empty manifest CID.
    error EmptyCid();

    /// @notice A zero address or an out-of-range basis-point share given to the constructor.
    error InvalidConfig();

    /// @notice `caller` does not own `listingId`.
    error NotListingOwner(uint256 listingId, address caller);

    /// @notice Only the arbiter may resolve challenges.
    error NotArbiter(address caller);

    /// @notice The owner cannot challenge their own listing.
    error OwnListing(uint256 listingId);

    /// @notice No withdrawal was requested for `listingId`.
    error WithdrawalNotRequested(uint256 listingId);

    /// @notice The withdrawal delay of `listingId` ends at `withdrawableAt`.
    error WithdrawalTooEarly(uint256 listingId, uint64 withdrawableAt);

    /// @notice `listingId` has `count` open challenges, so its stake cannot be withdrawn.
    error OpenChallenges(uint256 listingId, uint256 count);

    /// @notice `listingId` already has `threshold` open challenges and awaits the arbiter.
    error ChallengesFull(uint256 listingId, uint256 threshold);

    /// @notice `listingId` has only `count` open challenges; the arbiter needs `threshold`.
    error NotEnoughChallenges(uint256 listingId, uint256 count, uint256 threshold);

    /// @notice Lists a manifest, minting the listing token to the caller and pulling `stake` tokens.
    /// @return listingId Sequential id, starting at 1.
    function list(Kind kind, bytes calldata cid, uint256 stake) external returns (uint256 listingId);

    /// @notice {list} with an EIP-2612 permit for `stake` in the same transaction.
    function listWithPermit(
        Kind kind,
        bytes calldata cid,
        uint256 stake,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256 listingId);

    /// @notice Adds `amount` tokens (pulled from the owner) to the stake of `listingId`.
    function addStake(uint256 listingId, uint256 amount) external;

    /// @notice Starts the withdrawal delay of `listingId` (owner only).
    function requestWithdrawal(uint256 listingId) external;

    /// @notice After the delay and with no open challenge, returns the whole stake to the owner and burns
    ///         the listing.
    function withdraw(uint256 listingId) external;

    /// @notice Challenges `listingId` with `amount` tokens pulled from the caller.
    function challenge(uint256 listingId, uint256 amount) external;

    /// @notice Resolves the open challenges of `listingId` (arbiter only, once they reach the threshold).
    /// @param bad True when the listing is found bad.
    function resolve(uint256 listingId, bool bad) external;

    /// @notice Tokens staked on `listingId`.
    function stakeOf(uint256 listingId) external view returns (uint256);

    /// @notice Open challenges of `listingId`.
    function challengeCount(uint256 listingId) external view returns (uint256);

    /// @notice The open challenges of `listingId`.
    function challengesOf(uint256 listingId) external view returns (Challenge[] memory);

    /// @notice Manifest CID of `listingId`.
    function cidOf(uint256 listingId) external view returns (bytes memory);

    /// @notice The full state of `listingId` (all zero once burned).
    function getListing(uint256 listingId) external view returns (Listing memory);
}
