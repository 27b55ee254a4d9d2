// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IKosmosRegistry} from "./interfaces/IKosmosRegistry.sol";

/// @title Kosmos registry
/// @notice Staked dataset and stream listings with challenges; see {IKosmosRegistry}.
contract KosmosRegistry is ERC721, IKosmosRegistry {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    uint256 private constant BPS = 10_000;

    /// @notice The staking token.
    IERC20 public immutable token;
    /// @notice Resolves challenges.
    address public immutable arbiter;
    /// @notice Receives the protocol's share of resolved stakes.
    address public immutable treasury;
    /// @notice Smallest listing stake.
    uint256 public immutable minStake;
    /// @notice Smallest challenge stake.
    uint256 public immutable minChallengeStake;
    /// @notice Sum of open challenge stakes at which the arbiter may resolve at once.
    uint256 public immutable challengeThreshold;
    /// @notice Most challenges open at a time on one listing (bounds the gas of {resolve}).
    uint256 public immutable maxChallenges;
    /// @notice Seconds after the oldest open challenge from which the arbiter may resolve whatever the amount.
    uint256 public immutable reviewPeriod;
    /// @notice Seconds between a withdrawal request and the withdrawal.
    uint256 public immutable withdrawDelay;
    /// @notice Seconds after the delay during which a withdrawal request can be executed.
    uint256 public immutable withdrawWindow;
    /// @notice Share of a bad listing's stake paid to its challengers, the rest to the treasury.
    uint256 public immutable challengerBps;
    /// @notice Share of the challenge stakes paid to a good listing's owner, the rest to the treasury.
    uint256 public immutable listerBps;

    /// @notice Number of listings ever created (the last id).
    uint256 public listingCount;

    mapping(uint256 listingId => Listing) private _listings;
    mapping(uint256 listingId => Challenge[]) private _challenges;

    /// @notice Registry parameters.
    struct Config {
        IERC20 token;
        address arbiter;
        address treasury;
        uint256 minStake;
        uint256 minChallengeStake;
        uint256 challengeThreshold;
        uint256 maxChallenges;
        uint256 reviewPeriod;
        uint256 withdrawDelay;
        uint256 withdrawWindow;
        uint256 challengerBps;
        uint256 listerBps;
    }

    constructor(Config memory config) ERC721("Kosmos Listing", "KLIST") {
        if (
            address(config.token) == address(0) || config.arbiter == address(0) || config.treasury == address(0)
                || config.challengeThreshold == 0 || config.maxChallenges == 0
                || config.maxChallenges > type(uint16).max
                || config.maxChallenges * config.minChallengeStake < config.challengeThreshold
                || config.withdrawWindow == 0 || config.challengerBps > BPS || config.listerBps > BPS
                || config.minStake == 0 || config.minChallengeStake == 0
        ) revert InvalidConfig();
        token = config.token;
        arbiter = config.arbiter;
        treasury = config.treasury;
        minStake = config.minStake;
        minChallengeStake = config.minChallengeStake;
        challengeThreshold = config.challengeThreshold;
        maxChallenges = config.maxChallenges;
        reviewPeriod = config.reviewPeriod;
        withdrawDelay = config.withdrawDelay;
        withdrawWindow = config.withdrawWindow;
        challengerBps = config.challengerBps;
        listerBps = config.listerBps;
    }

    /// @inheritdoc IKosmosRegistry
    function list(Kind kind, bytes calldata cid, bytes32 dekCommit, uint256 stake)
        public
        returns (uint256 listingId)
    {
        if (cid.length == 0) revert EmptyCid();
        if (kind == Kind.Stream) {
            if (dekCommit != bytes32(0)) revert StreamDekCommit();
        } else if (dekCommit == bytes32(0)) {
            revert EmptyDekCommit();
        }
        if (stake < minStake) revert StakeTooLow(stake, minStake);
        listingId = ++listingCount;
        _listings[listingId] = Listing(stake.toUint96(), 0, 0, kind, 0, 0, dekCommit, cid);
        _mint(msg.sender, listingId);
        emit Listed(listingId, msg.sender, kind, cid, dekCommit, stake);
        token.safeTransferFrom(msg.sender, address(this), stake);
    }

    /// @inheritdoc IKosmosRegistry
    function listWithPermit(
        Kind kind,
        bytes calldata cid,
        bytes32 dekCommit,
        uint256 stake,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256) {
        try IERC20Permit(address(token)).permit(msg.sender, address(this), stake, permitDeadline, v, r, s) {}
            catch {}
        return list(kind, cid, dekCommit, stake);
    }

    /// @inheritdoc IKosmosRegistry
    function addStake(uint256 listingId, uint256 amount) external {
        _onlyOwner(listingId);
        Listing storage l = _listings[listingId];
        uint256 stake = l.stake + amount;
        l.stake = stake.toUint96();
        emit StakeAdded(listingId, amount, stake);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IKosmosRegistry
    function requestWithdrawal(uint256 listingId) external {
        _onlyOwner(listingId);
        Listing storage l = _listings[listingId];
        if (l.challengeCount != 0) revert OpenChallenges(listingId, l.challengeCount);
        uint40 unlockAt = uint40(block.timestamp + withdrawDelay);
        l.withdrawableAt = unlockAt;
        emit WithdrawalRequested(listingId, unlockAt);
    }

    /// @inheritdoc IKosmosRegistry
    function withdraw(uint256 listingId) external {
        address owner = _onlyOwner(listingId);
        Listing storage l = _listings[listingId];
        uint40 unlockAt = l.withdrawableAt;
        if (unlockAt == 0) revert WithdrawalNotRequested(listingId);
        if (block.timestamp < unlockAt) revert WithdrawalTooEarly(listingId, unlockAt);
        if (block.timestamp > unlockAt + withdrawWindow) {
            revert WithdrawalExpired(listingId, uint64(unlockAt + withdrawWindow));
        }
        if (l.challengeCount != 0) revert OpenChallenges(listingId, l.challengeCount);
        uint256 stake = l.stake;
        delete _listings[listingId];
        _burn(listingId);
        emit Withdrawn(listingId, owner, stake);
        token.safeTransfer(owner, stake);
    }

    /// @inheritdoc IKosmosRegistry
    function challenge(uint256 listingId, uint256 amount) external {
        if (_requireOwned(listingId) == msg.sender) revert OwnListing(listingId);
        if (amount < minChallengeStake) revert ChallengeStakeTooLow(amount, minChallengeStake);
        Listing storage l = _listings[listingId];
        uint256 count = l.challengeCount;
        if (count >= maxChallenges) revert ChallengesFull(listingId, maxChallenges);
        _challenges[listingId].push(Challenge(msg.sender, amount.toUint96()));
        if (count == 0) l.challengedAt = uint40(block.timestamp);
        l.challengeCount = uint16(++count);
        l.challenged = (l.challenged + amount).toUint96();
        if (l.withdrawableAt != 0) {
            l.withdrawableAt = 0;
            emit WithdrawalCancelled(listingId);
        }
        emit Challenged(listingId, msg.sender, amount, count);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IKosmosRegistry
    function resolve(uint256 listingId, bool bad) external {
        if (msg.sender != arbiter) revert NotArbiter(msg.sender);
        address owner = _requireOwned(listingId);
        Listing storage l = _listings[listingId];
        uint256 count = l.challengeCount;
        if (count == 0) revert NoChallenges(listingId);
        uint256 challenged = l.challenged;
        uint256 reviewableAt = l.challengedAt + reviewPeriod;
        if (challenged < challengeThreshold && block.timestamp < reviewableAt) {
            revert NotResolvable(listingId, challenged, challengeThreshold, reviewableAt);
        }
        Challenge[] memory challenges = _challenges[listingId];
        delete _challenges[listingId];
        uint256 toChallengers;
        uint256 toOwner;
        uint256 toTreasury;
        if (bad) {
            uint256 stake = l.stake;
            uint256 reward = stake * challengerBps / BPS;
            delete _listings[listingId];
            _burn(listingId);
            for (uint256 i; i < count; ++i) {
                uint256 amount = challenges[i].amount;
                uint256 paid = amount + reward * amount / challenged;
                toChallengers += paid;
                token.safeTransfer(challenges[i].challenger, paid);
            }
            toTreasury = stake + challenged - toChallengers;
        } else {
            l.challengeCount = 0;
            l.challenged = 0;
            l.challengedAt = 0;
            toOwner = challenged * listerBps / BPS;
            toTreasury = challenged - toOwner;
            if (toOwner != 0) token.safeTransfer(owner, toOwner);
        }
        if (toTreasury != 0) token.safeTransfer(treasury, toTreasury);
        emit Resolved(listingId, bad, toChallengers, toOwner, toTreasury);
    }

    /// @inheritdoc IKosmosRegistry
    function stakeOf(uint256 listingId) external view returns (uint256) {
        return _listings[listingId].stake;
    }

    /// @inheritdoc IKosmosRegistry
    function challengeCount(uint256 listingId) external view returns (uint256) {
        return _listings[listingId].challengeCount;
    }

    /// @inheritdoc IKosmosRegistry
    function challengesOf(uint256 listingId) external view returns (Challenge[] memory) {
        return _challenges[listingId];
    }

    /// @inheritdoc IKosmosRegistry
    function cidOf(uint256 listingId) external view returns (bytes memory) {
        return _listings[listingId].cid;
    }

    /// @inheritdoc IKosmosRegistry
    function dekCommitOf(uint256 listingId) external view returns (bytes32) {
        return _listings[listingId].dekCommit;
    }

    /// @inheritdoc IKosmosRegistry
    function getListing(uint256 listingId) external view returns (Listing memory) {
        return _listings[listingId];
    }

    function _onlyOwner(uint256 listingId) private view returns (address owner) {
        owner = _requireOwned(listingId);
        if (owner != msg.sender) revert NotListingOwner(listingId, msg.sender);
    }
}
