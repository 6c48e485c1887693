// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC1155} from "solady/src/tokens/ERC1155.sol";
import {ContentId} from "./ContentId.sol";
import {MintbotManaged} from "./MintbotManaged.sol";

/// @title mintbot editions
/// @notice ERC-1155 for edition drops: one token ID per artwork (the sha2-256 digest of its
/// metadata block, so `uri` is derived from the ID as the collection's tokenURI is), and each
/// claim a balance of 1. Every claim carries its edition number, and a bitmap of the edition
/// numbers minted per ID (one storage word per 256 editions) makes a retried or replayed batch
/// skip what it minted before: no claim ever mints a second edition.
/// @dev Token logic is Solady's ERC1155 (TransferSingle per mint, the onERC1155Received check
/// for contract recipients); roles, royalties and metadata are MintbotManaged's.
contract MintbotEditions is ERC1155, MintbotManaged {
    /// Bit `e % 256` of word `e / 256` of an ID is set once its edition `e` is minted.
    mapping(uint256 id => mapping(uint256 word => uint256 bits)) private _minted;

    error EditionZero(uint256 claim);

    constructor(
        string memory name_,
        string memory symbol_,
        address owner_,
        address admin,
        address minter,
        address royaltyReceiver,
        uint96 royaltyBasisPoints,
        string memory contractURI_
    ) {
        _initialize(
            name_, symbol_, owner_, admin, minter, royaltyReceiver, royaltyBasisPoints, contractURI_
        );
    }

    /// @notice Mints 1 of `id` per claim, skipping claims whose edition is minted already.
    /// A claim packs `edition << 160 | recipient`; edition numbers start at 1. Returns how
    /// many were minted.
    function mintEditions(uint256 id, uint256[] calldata claims)
        external
        onlyRole(MINTER_ROLE)
        returns (uint256 minted)
    {
        uint256 n = claims.length;
        bytes memory noData; // the zero-length bytes at 0x60: nothing allocated per claim
        // The storage slot of `_minted[id]`, then of the bitmap word of the claim before, and
        // the word itself, kept on the stack: claims of one drop come in edition order, so a
        // batch reads each word once.
        uint256 idSlot;
        uint256 wordSlot;
        uint256 wordIndex = type(uint256).max;
        uint256 word;
        /// @solidity memory-safe-assembly
        assembly {
            mstore(0x00, id)
            mstore(0x20, _minted.slot)
            idSlot := keccak256(0x00, 0x40)
        }
        for (uint256 i; i < n; ) {
            uint256 claim;
            /// @solidity memory-safe-assembly
            assembly {
                claim := calldataload(add(claims.offset, shl(5, i))) // i < claims.length
            }
            uint256 edition = claim >> 160;
            if (edition == 0) revert EditionZero(claim);
            if (edition >> 8 != wordIndex) {
                wordIndex = edition >> 8;
                /// @solidity memory-safe-assembly
                assembly {
                    mstore(0x00, wordIndex)
                    mstore(0x20, idSlot)
                    wordSlot := keccak256(0x00, 0x40) // the slot of _minted[id][wordIndex]
                    word := sload(wordSlot)
                }
            }
            uint256 bit = 1 << (edition & 255);
            if (word & bit == 0) {
                word |= bit;
                // Recorded before the mint, whose acceptance check calls the recipient.
                /// @solidity memory-safe-assembly
                assembly {
                    sstore(wordSlot, word)
                }
                _mint(address(uint160(claim)), id, 1, noData);
                unchecked { ++minted; }
            }
            unchecked { ++i; }
        }
    }

    /// @notice Whether edition `edition` of `id` is minted.
    function editionMinted(uint256 id, uint256 edition) external view returns (bool) {
        return (_minted[id][edition >> 8] >> (edition & 255)) & 1 == 1;
    }

    /// @notice Word `word` of the bitmap of `id`'s minted editions: bit i is edition
    /// word * 256 + i.
    function mintedEditions(uint256 id, uint256 word) external view returns (uint256) {
        return _minted[id][word];
    }

    function name() external view returns (string memory) {
        return _name;
    }

    function symbol() external view returns (string memory) {
        return _symbol;
    }

    /// @notice `ipfs://` followed by the CIDv1 (raw codec, sha2-256) whose digest is `id`.
    function uri(uint256 id) public pure override returns (string memory) {
        return ContentId.uriOf(id);
    }

    /// @notice The base32 CIDv1 (raw codec, sha2-256) whose digest is `id`.
    function cidOf(uint256 id) external pure returns (string memory) {
        return ContentId.cidOf(id);
    }

    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC1155, MintbotManaged)
        returns (bool)
    {
        // Solady's ERC1155 answers for ERC-165, 1155 and 1155 Metadata URI; MintbotManaged
        // for ERC-2981 and AccessControl.
        return ERC1155.supportsInterface(interfaceId)
            || MintbotManaged.supportsInterface(interfaceId);
    }
}
