// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IKosmosFaucet} from "./interfaces/IKosmosFaucet.sol";

/// @title Kosmos faucet
/// @notice Dev networks only: holds test tokens (minted to it by the token's constructor) and test ether
///         (sent to it), and gives each address {amount} tokens and an ether top-up once per {cooldown},
///         with at most {maxDripsPerPeriod} drips per period of {cooldown} seconds in all.
contract KosmosFaucet is IKosmosFaucet {
    using SafeERC20 for IERC20;

    struct Config {
        IERC20 token;
        /// Tokens per drip.
        uint256 amount;
        /// Wei a recipient's ether balance is topped up to (0: no ether).
        uint256 ethAmount;
        /// Seconds between two drips to one address, and the length of a period.
        uint64 cooldown;
        /// Drips per period, all addresses together.
        uint64 maxDripsPerPeriod;
    }

    IERC20 public immutable token;
    uint256 public immutable amount;
    uint256 public immutable ethAmount;
    uint64 public immutable cooldown;
    uint64 public immutable maxDripsPerPeriod;

    /// @inheritdoc IKosmosFaucet
    mapping(address => uint256) public nextDripAt;

    /// @notice Start (unix seconds) of the period {periodDrips} counts.
    uint128 public periodStart;
    /// @notice Drips given out in the period that starts at {periodStart}.
    uint128 public periodDrips;

    constructor(Config memory config) payable {
        if (
            address(config.token) == address(0) || config.amount == 0 || config.cooldown == 0
                || config.maxDripsPerPeriod == 0
        ) revert InvalidFaucetConfig();
        token = config.token;
        amount = config.amount;
        ethAmount = config.ethAmount;
        cooldown = config.cooldown;
        maxDripsPerPeriod = config.maxDripsPerPeriod;
    }

    /// @notice Takes test ether to hand out.
    receive() external payable {}

    /// @inheritdoc IKosmosFaucet
    function drip(address to) external returns (uint256 tokens, uint256 eth) {
        if (to == address(0)) revert ZeroRecipient();
        uint256 next = nextDripAt[to];
        if (block.timestamp < next) revert FaucetCooldown(to, next);
        uint256 period = block.timestamp - (block.timestamp % cooldown);
        uint256 drips = period == periodStart ? periodDrips : 0;
        if (drips >= maxDripsPerPeriod) revert FaucetBusy(period + cooldown);
        tokens = amount;
        uint256 balance = token.balanceOf(address(this));
        if (balance < tokens) revert FaucetEmpty(balance, tokens);
        (periodStart, periodDrips) = (uint128(period), uint128(drips + 1));
        nextDripAt[to] = block.timestamp + cooldown;
        if (to.balance < ethAmount) {
            eth = ethAmount - to.balance;
            if (eth > address(this).balance) eth = address(this).balance;
        }
        emit Dripped(to, tokens, eth);
        token.safeTransfer(to, tokens);
        if (eth > 0) {
            (bool ok,) = to.call{value: eth}("");
            if (!ok) revert EthTransferFailed(to, eth);
        }
    }
}
