// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Kosmos consent
/// @notice Consent records as non-transferable ERC-721 tokens held by the contributor, one per
///         (contributor, source, purpose, expiry). The contributor grants directly or signs an EIP-712
///         `Grant` that anyone relays; revoking burns the token, keeps the record and emits {Revoked},
///         the revocation receipt.
interface IKosmosConsent {
    /// @notice A consent record. `source` and `purpose` are 32-byte identifiers (for example the keccak256
    ///         of a site id and of a purpose name).
    struct Consent {
        address contributor;
        uint40 expiry;
        uint40 revokedAt;
        bytes32 source;
        bytes32 purpose;
    }

    /// @notice `contributor` granted consent `consentId` for `source` and `purpose` until `expiry`.
    event Granted(
        uint256 indexed consentId, address indexed contributor, bytes32 indexed source, bytes32 purpose, uint64 expiry
    );

    /// @notice Revocation receipt: `contributor` revoked consent `consentId` at `revokedAt`.
    event Revoked(
        uint256 indexed consentId,
        address indexed contributor,
        bytes32 indexed source,
        bytes32 purpose,
        uint64 revokedAt
    );

    /// @notice The expiry is not in the future (or beyond the year 36812, the 40-bit limit).
    error ExpiryInPast(uint64 expiry);

    /// @notice The signed grant's deadline has passed.
    error SignatureExpired(uint256 deadline);

    /// @notice The grant was not signed by `contributor` (or was malformed).
    error InvalidSigner(address contributor);

    /// @notice No live consent token `consentId`.
    error UnknownConsent(uint256 consentId);

    /// @notice Only the contributor may revoke.
    error NotContributor(uint256 consentId, address caller);

    /// @notice Consent tokens cannot be transferred.
    error ConsentNotTransferable(uint256 consentId);

    /// @notice Grants consent from the caller.
    /// @return consentId Sequential id, starting at 1.
    function grant(bytes32 source, bytes32 purpose, uint64 expiry) external returns (uint256 consentId);

    /// @notice Grants consent from `contributor`, who signed the EIP-712 message
    ///         `Grant(address contributor,bytes32 source,bytes32 purpose,uint64 expiry,uint256 nonce,uint256 deadline)`
    ///         in the domain ("Kosmos Consent", "1", chain id, this contract) with their current {nonces}.
    function grantBySig(
        address contributor,
        bytes32 source,
        bytes32 purpose,
        uint64 expiry,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256 consentId);

    /// @notice Revokes consent `consentId` (contributor only), burning its token.
    function revoke(uint256 consentId) external;

    /// @notice True while `consentId` is neither revoked nor expired.
    function isValid(uint256 consentId) external view returns (bool);

    /// @notice The record of `consentId` (kept after revocation).
    function getConsent(uint256 consentId) external view returns (Consent memory);

    /// @notice Next nonce `contributor` must sign.
    function nonces(address contributor) external view returns (uint256);
}
