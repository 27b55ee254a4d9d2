// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IKosmosConsent} from "./interfaces/IKosmosConsent.sol";
import {IKosmosOwnership} from "./interfaces/IKosmosOwnership.sol";

/// @title Kosmos data ownership
/// @notice Publication ownership records as non-transferable ERC-721 tokens; see {IKosmosOwnership}.
contract KosmosOwnership is ERC721, IKosmosOwnership {
    /// @inheritdoc IKosmosOwnership
    uint256 public constant MAX_CONSENTS = 64;

    /// @notice The consent contract whose records a publication is made under.
    IKosmosConsent public immutable consent;

    /// @notice Number of records (the last id).
    uint256 public recordCount;

    mapping(uint256 tokenId => Record) private _records;
    mapping(address owner => mapping(bytes32 manifestDigest => uint256 tokenId)) private _recordOf;

    constructor(IKosmosConsent consent_) ERC721("Kosmos Data Ownership", "KOWN") {
        consent = consent_;
    }

    /// @inheritdoc IKosmosOwnership
    function record(bytes32 manifestDigest, uint256[] calldata consentIds) external returns (uint256 tokenId) {
        if (manifestDigest == bytes32(0)) revert EmptyManifest();
        uint256 count = consentIds.length;
        if (count == 0) revert NoConsents();
        if (count > MAX_CONSENTS) revert TooManyConsents(count, MAX_CONSENTS);
        uint256 existing = _recordOf[msg.sender][manifestDigest];
        if (existing != 0) revert AlreadyRecorded(manifestDigest, msg.sender, existing);
        for (uint256 i = 0; i < count; ++i) {
            uint256 id = consentIds[i];
            // At most 64 ids: a quadratic duplicate check costs less than a sort or a storage set.
            for (uint256 j = 0; j < i; ++j) {
                if (consentIds[j] == id) revert DuplicateConsent(id);
            }
            if (!consent.isValid(id)) revert ConsentNotValid(id);
            address contributor = consent.getConsent(id).contributor;
            if (contributor != msg.sender) revert ConsentNotHeld(id, contributor, msg.sender);
        }
        tokenId = ++recordCount;
        _records[tokenId] = Record(msg.sender, uint64(block.timestamp), manifestDigest, consentIds);
        _recordOf[msg.sender][manifestDigest] = tokenId;
        _mint(msg.sender, tokenId);
        emit Recorded(tokenId, msg.sender, manifestDigest, consentIds);
    }

    /// @inheritdoc IKosmosOwnership
    function getRecord(uint256 tokenId) external view returns (Record memory) {
        Record storage r = _records[tokenId];
        if (r.owner == address(0)) revert UnknownRecord(tokenId);
        return r;
    }

    /// @inheritdoc IKosmosOwnership
    function recordOf(address owner, bytes32 manifestDigest) external view returns (uint256) {
        return _recordOf[owner][manifestDigest];
    }

    /// @dev Only mints: the record stays with the person whose data was published.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address) {
        if (_ownerOf(tokenId) != address(0)) revert OwnershipNotTransferable(tokenId);
        return super._update(to, tokenId, auth);
    }
}
