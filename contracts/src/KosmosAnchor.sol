// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IKosmosAnchor} from "./interfaces/IKosmosAnchor.sol";

/// @title Kosmos anchor
/// @notice Merkle roots of data hashes with the timestamp they were first anchored at.
contract KosmosAnchor is IKosmosAnchor {
    /// @inheritdoc IKosmosAnchor
    mapping(bytes32 root => uint64) public anchoredAt;

    /// @inheritdoc IKosmosAnchor
    function anchor(bytes32 root, string calldata label) external {
        if (root == bytes32(0)) revert EmptyRoot();
        uint64 stamped = anchoredAt[root];
        if (stamped != 0) revert AlreadyAnchored(root, stamped);
        stamped = uint64(block.timestamp);
        anchoredAt[root] = stamped;
        emit Anchored(root, msg.sender, stamped, label);
    }

    /// @inheritdoc IKosmosAnchor
    function verify(bytes32 root, bytes32 leaf, bytes32[] calldata proof)
        external
        view
        returns (bool ok, uint64 stamped)
    {
        stamped = anchoredAt[root];
        ok = stamped != 0 && MerkleProof.verifyCalldata(proof, root, leaf);
    }
}
