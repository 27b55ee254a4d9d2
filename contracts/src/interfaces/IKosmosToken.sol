// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Kosmos token
/// @notice ERC-20 with EIP-2612 permit, 18 decimals and a fixed supply of 21,000,000 tokens minted once
///         at deployment. Transfer failures use the ERC-6093 errors (`ERC20InsufficientBalance`, …).
interface IKosmosToken {
    /// @notice The constructor was given `recipients` and `amounts` arrays of different lengths.
    /// @param recipients Number of recipients given.
    /// @param amounts Number of amounts given.
    error AllocationLengthMismatch(uint256 recipients, uint256 amounts);

    /// @notice The constructor's allocations do not add up to the fixed supply.
    /// @param allocated Sum of the amounts given.
    /// @param supply The fixed total supply.
    error SupplyMismatch(uint256 allocated, uint256 supply);
}
