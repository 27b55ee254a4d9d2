// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Kosmos anchor
/// @notice Timestamps Merkle roots of data hashes so anyone can later check that a leaf was committed
///         to by a given time. Leaves are passed already hashed; build them as
///         `keccak256(bytes.concat(keccak256(data)))` so a leaf can never be mistaken for an inner node.
interface IKosmosAnchor {
    /// @notice `root` was anchored at `anchoredAt` by `anchorer`.
    /// @param root The Merkle root.
    /// @param anchorer Who anchored it.
    /// @param anchoredAt Block timestamp of the anchoring.
    /// @param label Free-form description (dataset, batch, …); only in the event.
    event Anchored(bytes32 indexed root, address indexed anchorer, uint64 anchoredAt, string label);

    /// @notice The zero root cannot be anchored.
    error EmptyRoot();

    /// @notice `root` is already anchored; the first timestamp stands.
    /// @param root The Merkle root.
    /// @param anchoredAt When it was first anchored.
    error AlreadyAnchored(bytes32 root, uint64 anchoredAt);

    /// @notice Records the current block timestamp for `root`.
    /// @param root The Merkle root (not zero, not anchored yet).
    /// @param label Free-form description emitted in {Anchored}.
    function anchor(bytes32 root, string calldata label) external;

    /// @notice Checks a Merkle proof of `leaf` against an anchored `root`.
    /// @return ok True when `root` is anchored and `proof` proves `leaf` (sorted-pair hashing).
    /// @return anchoredAt When `root` was anchored, 0 when it never was.
    function verify(bytes32 root, bytes32 leaf, bytes32[] calldata proof)
        external
        view
        returns (bool ok, uint64 anchoredAt);

    /// @notice When `root` was anchored, 0 when it never was.
    function anchoredAt(bytes32 root) external view returns (uint64);
}
