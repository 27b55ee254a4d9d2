// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Kosmos data ownership
/// @notice Ownership records of publications as non-transferable ERC-721 tokens held by the person whose
///         data was published. A record names the publication's manifest (the sha-256 digest of its CID's
///         multihash) and the consent records it was published under; every one of them must be valid
///         and held by the caller when it is recorded.
interface IKosmosOwnership {
    /// @notice An ownership record.
    struct Record {
        address owner;
        uint64 recordedAt;
        bytes32 manifestDigest;
        uint256[] consentIds;
    }

    /// @notice `owner` recorded `manifestDigest`, published under `consentIds`, as token `tokenId`.
    event Recorded(uint256 indexed tokenId, address indexed owner, bytes32 manifestDigest, uint256[] consentIds);

    /// @notice A record names no consent.
    error NoConsents();

    /// @notice A record names more than {MAX_CONSENTS} consents.
    error TooManyConsents(uint256 count, uint256 max);

    /// @notice `consentId` appears twice in one record.
    error DuplicateConsent(uint256 consentId);

    /// @notice Consent `consentId` is revoked, expired or was never granted.
    error ConsentNotValid(uint256 consentId);

    /// @notice Consent `consentId` is held by `contributor`, not by the caller.
    error ConsentNotHeld(uint256 consentId, address contributor, address caller);

    /// @notice The zero digest names no manifest.
    error EmptyManifest();

    /// @notice `owner` already recorded `manifestDigest` as token `tokenId`.
    error AlreadyRecorded(bytes32 manifestDigest, address owner, uint256 tokenId);

    /// @notice No ownership record `tokenId`.
    error UnknownRecord(uint256 tokenId);

    /// @notice Ownership records cannot be transferred.
    error OwnershipNotTransferable(uint256 tokenId);

    /// @notice Records the caller's ownership of the publication `manifestDigest`, published under
    ///         `consentIds` (1 to {MAX_CONSENTS} distinct ids, each valid now and held by the caller).
    /// @return tokenId Sequential id, starting at 1.
    function record(bytes32 manifestDigest, uint256[] calldata consentIds) external returns (uint256 tokenId);

    /// @notice The record of `tokenId`; reverts with {UnknownRecord} when there is none.
    function getRecord(uint256 tokenId) external view returns (Record memory);

    /// @notice The token `owner` recorded for `manifestDigest`, 0 when none.
    function recordOf(address owner, bytes32 manifestDigest) external view returns (uint256);

    /// @notice Most consent ids one record may name.
    function MAX_CONSENTS() external view returns (uint256);
}
