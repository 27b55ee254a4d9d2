// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IKosmosToken} from "./interfaces/IKosmosToken.sol";

/// @title Kosmos token (KOS)
/// @notice ERC-20 + EIP-2612 permit. The whole supply, 21,000,000 tokens, is minted once in the
///         constructor to the given recipients (treasury, rewards reserve, a faucet on dev chains); there
///         is no mint function.
contract KosmosToken is ERC20Permit, IKosmosToken {
    /// @notice The fixed total supply.
    uint256 public constant TOTAL_SUPPLY = 21_000_000e18;

    /// @param recipients Who receives the initial allocations.
    /// @param amounts How much each recipient receives; must add up to {TOTAL_SUPPLY}.
    constructor(address[] memory recipients, uint256[] memory amounts)
        ERC20("Kosmos", "KOS")
        ERC20Permit("Kosmos")
    {
        if (recipients.length != amounts.length) {
            revert AllocationLengthMismatch(recipients.length, amounts.length);
        }
        uint256 allocated;
        for (uint256 i; i < recipients.length; ++i) {
            allocated += amounts[i];
            _mint(recipients[i], amounts[i]);
        }
        if (allocated != TOTAL_SUPPLY) revert SupplyMismatch(allocated, TOTAL_SUPPLY);
    }
}
