// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Kosmos registry
/// @notice Dataset and stream listings as ERC-721 ownership tokens bound to a manifest CID and the
///         manifest's key commitment `dekCommit = keccak256(DEK)`: the escrow only opens sales whose
///         quote carries the listing's `dekCommit`, so the key a sale delivers is fixed when the listing
///         is staked. A stream listing has `dekCommit = 0`: every epoch has its own key, and each sale
///         commits to the keys of the epochs it sells in its quote. Listing locks a stake; anyone may challenge a listing with a stake of their own.
///         The arbiter may resolve the open challenges of a listing at once when they add up to
///         `challengeThreshold` tokens, and whatever their amount once the oldest open challenge is
///         `reviewPeriod` seconds old (so one small challenge cannot freeze a stake forever). At most
///         `maxChallenges` challenges are open at a time (a gas bound on {resolve}); the constructor
///         requires `maxChallenges * minChallengeStake >= challengeThreshold`, so whoever fills every
///         slot (the owner's own accounts included) has made the listing resolvable at once, and pays
///         the treasury its share of those stakes when it is found good. Resolution:
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
    /// @param withdrawableAt When a requested withdrawal may be executed (until `withdrawableAt +
    ///        withdrawWindow`); 0 when none is pending.
    /// @param challengeCount Open challenges.
    /// @param kind Dataset or stream.
    /// @param challenged Sum of the open challenge stakes.
    /// @param challengedAt When the oldest open challenge was made; 0 when none is open.
    /// @param dekCommit keccak256(DEK) of the manifest: what every sale of this listing must deliver.
    /// @param cid Binary CID of the signed manifest.
    struct Listing {
        uint96 stake;
        uint40 withdrawableAt;
        uint16 challengeCount;
        Kind kind;
        uint96 challenged;
        uint40 challengedAt;
        bytes32 dekCommit;
        bytes cid;
    }

    /// @notice One open challenge.
    struct Challenge {
        address challenger;
        uint96 amount;
    }

    /// @notice `listingId` was minted to `owner` for manifest `cid` (key commitment `dekCommit`) with
    ///         `stake` tokens.
    event Listed(
        uint256 indexed listingId, address indexed owner, Kind kind, bytes cid, bytes32 dekCommit, uint256 stake
    );

    /// @notice `amount` tokens were added to the stake of `listingId`, now `stake`.
    event StakeAdded(uint256 indexed listingId, uint256 amount, uint256 stake);

    /// @notice The owner asked to withdraw the stake of `listingId`, possible from `withdrawableAt`.
    event WithdrawalRequested(uint256 indexed listingId, uint64 withdrawableAt);

    /// @notice The stake of `listingId` (`amount`) went back to `owner` and the listing was burned.
    event Withdrawn(uint256 indexed listingId, address indexed owner, uint256 amount);

    /// @notice A pending withdrawal of `listingId` was cancelled by a challenge.
    event WithdrawalCancelled(uint256 indexed listingId);

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

    /// @notice A zero key commitment for a dataset listing.
    error EmptyDekCommit();

    /// @notice A nonzero key commitment for a stream listing: a stream has no one key; each sale of it
    ///         commits to the epoch keys it sells in its quote.
    error StreamDekCommit();

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

    /// @notice The withdrawal request of `listingId` lapsed at `expiredAt`; request again.
    error WithdrawalExpired(uint256 listingId, uint64 expiredAt);

    /// @notice `listingId` has `count` open challenges, so its stake cannot be withdrawn (nor a withdrawal
    ///         requested).
    error OpenChallenges(uint256 listingId, uint256 count);

    /// @notice `listingId` already has `max` open challenges and awaits the arbiter.
    error ChallengesFull(uint256 listingId, uint256 max);

    /// @notice `listingId` has no open challenge.
    error NoChallenges(uint256 listingId);

    /// @notice The open challenges of `listingId` add up to `challenged` tokens, below `threshold`, and
    ///         the arbiter may resolve them regardless only from `reviewableAt`.
    error NotResolvable(uint256 listingId, uint256 challenged, uint256 threshold, uint256 reviewableAt);

    /// @notice Lists a manifest with its key commitment, minting the listing token to the caller and
    ///         pulling `stake` tokens.
    /// @param dekCommit keccak256(DEK) as in the manifest; sales of the listing must carry it. Zero for a
    ///        stream (and only for a stream).
    /// @return listingId Sequential id, starting at 1.
    function list(Kind kind, bytes calldata cid, bytes32 dekCommit, uint256 stake)
        external
        returns (uint256 listingId);

    /// @notice {list} with an EIP-2612 permit for `stake` in the same transaction.
    function listWithPermit(
        Kind kind,
        bytes calldata cid,
        bytes32 dekCommit,
        uint256 stake,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256 listingId);

    /// @notice Adds `amount` tokens (pulled from the owner) to the stake of `listingId`.
    function addStake(uint256 listingId, uint256 amount) external;

    /// @notice Starts the withdrawal delay of `listingId` (owner only, no open challenge). The request can
    ///         be executed from `withdrawDelay` seconds on, for `withdrawWindow` seconds; a challenge cancels
    ///         it.
    function requestWithdrawal(uint256 listingId) external;

    /// @notice After the delay, inside the window and with no open challenge, returns the whole stake to
    ///         the owner and burns the listing.
    function withdraw(uint256 listingId) external;

    /// @notice Challenges `listingId` with `amount` tokens pulled from the caller; cancels a pending
    ///         withdrawal request.
    function challenge(uint256 listingId, uint256 amount) external;

    /// @notice Resolves the open challenges of `listingId` (arbiter only, once they add up to the
    ///         threshold or the oldest is `reviewPeriod` old).
    /// @param bad True when the listing is found bad.
    function resolve(uint256 listingId, bool bad) external;

    /// @notice Resolves registry challenges and escrow disputes.
    function arbiter() external view returns (address);

    /// @notice The key commitment `listingId` was listed with (zero once burned or never listed).
    function dekCommitOf(uint256 listingId) external view returns (bytes32);

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
