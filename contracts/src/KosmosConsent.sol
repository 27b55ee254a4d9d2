// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IKosmosConsent} from "./interfaces/IKosmosConsent.sol";

/// @title Kosmos consent
/// @notice Consent records as non-transferable ERC-721 tokens; see {IKosmosConsent}.
contract KosmosConsent is ERC721, EIP712, Nonces, IKosmosConsent {
    /// @notice EIP-712 type hash of a relayed grant.
    bytes32 public constant GRANT_TYPEHASH = keccak256(
        "Grant(address contributor,bytes32 source,bytes32 purpose,uint64 expiry,uint256 nonce,uint256 deadline)"
    );

    /// @notice Number of consents granted (the last id).
    uint256 public consentCount;

    mapping(uint256 consentId => Consent) private _consents;

    constructor() ERC721("Kosmos Consent", "KCONSENT") EIP712("Kosmos Consent", "1") {}

    /// @inheritdoc IKosmosConsent
    function grant(bytes32 source, bytes32 purpose, uint64 expiry) external returns (uint256) {
        return _grant(msg.sender, source, purpose, expiry);
    }

    /// @inheritdoc IKosmosConsent
    function grantBySig(
        address contributor,
        bytes32 source,
        bytes32 purpose,
        uint64 expiry,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256) {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(GRANT_TYPEHASH, contributor, source, purpose, expiry, _useNonce(contributor), deadline)
            )
        );
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != contributor) revert InvalidSigner(contributor);
        return _grant(contributor, source, purpose, expiry);
    }

    /// @inheritdoc IKosmosConsent
    function revoke(uint256 consentId) external {
        address holder = _ownerOf(consentId);
        if (holder == address(0)) revert UnknownConsent(consentId);
        if (holder != msg.sender) revert NotContributor(consentId, msg.sender);
        Consent storage c = _consents[consentId];
        c.revokedAt = uint40(block.timestamp);
        _burn(consentId);
        emit Revoked(consentId, holder, c.source, c.purpose, uint64(block.timestamp));
    }

    /// @inheritdoc IKosmosConsent
    function isValid(uint256 consentId) external view returns (bool) {
        Consent storage c = _consents[consentId];
        return c.contributor != address(0) && c.revokedAt == 0 && block.timestamp < c.expiry;
    }

    /// @inheritdoc IKosmosConsent
    function getConsent(uint256 consentId) external view returns (Consent memory) {
        return _consents[consentId];
    }

    /// @inheritdoc IKosmosConsent
    function nonces(address contributor) public view override(Nonces, IKosmosConsent) returns (uint256) {
        return super.nonces(contributor);
    }

    /// @notice The EIP-712 domain separator of this chain and contract.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _grant(address contributor, bytes32 source, bytes32 purpose, uint64 expiry)
        private
        returns (uint256 consentId)
    {
        if (expiry <= block.timestamp || expiry > type(uint40).max) revert ExpiryInPast(expiry);
        consentId = ++consentCount;
        _consents[consentId] = Consent(contributor, uint40(expiry), 0, source, purpose);
        _mint(contributor, consentId);
        emit Granted(consentId, contributor, source, purpose, expiry);
    }

    /// @dev Only mints and burns: consent stays with its contributor.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address) {
        if (to != address(0) && _ownerOf(tokenId) != address(0)) revert ConsentNotTransferable(tokenId);
        return super._update(to, tokenId, auth);
    }
}
