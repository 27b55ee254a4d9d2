// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Kosmos faucet (dev networks only)
/// @notice Hands out test tokens, and test ether for gas, to anyone who asks, within limits: each
///         address once per cooldown, and at most a fixed number of drips per cooldown period in all,
///         so no caller can drain it faster than that however many addresses it uses.
interface IKosmosFaucet {
    /// @notice `to` received `tokens` and `eth` (wei, a top-up to the faucet's ether amount).
    event Dripped(address indexed to, uint256 tokens, uint256 eth);

    /// @notice A drip to the zero address.
    error ZeroRecipient();

    /// @notice The constructor was given a zero token, amount, cooldown or drip limit.
    error InvalidFaucetConfig();

    /// @notice `to` had a drip less than a cooldown ago.
    /// @param to The recipient.
    /// @param availableAt Unix seconds from which `to` may have its next drip.
    error FaucetCooldown(address to, uint256 availableAt);

    /// @notice Every drip of the current period is given out.
    /// @param availableAt Unix seconds at which the next period starts.
    error FaucetBusy(uint256 availableAt);

    /// @notice The faucet holds fewer tokens than one drip.
    /// @param balance The faucet's token balance.
    /// @param amount Tokens per drip.
    error FaucetEmpty(uint256 balance, uint256 amount);

    /// @notice Sending ether to `to` failed (a contract that refuses ether).
    error EthTransferFailed(address to, uint256 amount);

    /// @notice Sends {amount} tokens to `to`, and tops its ether balance up to {ethAmount} as far as the
    ///         faucet's ether allows. Anyone may call it for any address.
    /// @return tokens Tokens sent.
    /// @return eth Wei sent.
    function drip(address to) external returns (uint256 tokens, uint256 eth);

    /// @notice Unix seconds from which `to` may have a drip (0: now).
    function nextDripAt(address to) external view returns (uint256);
}
