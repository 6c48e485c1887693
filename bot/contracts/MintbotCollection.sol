// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC721} from "solady/src/tokens/ERC721.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title mintbot collection
/// @notice ERC-721 whose token IDs are content addresses: a token's ID is the sha2-256 digest of
/// its metadata block, so `tokenURI` is derived from the ID and nothing per token is stored
/// beyond what ERC-721 itself needs. Because the ID follows from the content, minting the same
/// request twice cannot create a second token: `mint` reverts and `mintBatch` skips it.
/// @dev No token logic of our own: ERC-721 is Solady's (its assembly mint is what brings a batched
/// mint under 26k gas per token), roles and royalties are OpenZeppelin's. The hot wallet holds
/// only MINTER_ROLE; DEFAULT_ADMIN_ROLE (royalties, collection metadata, role management)
/// belongs to a separate address.
contract MintbotCollection is ERC721, ERC2981, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// CIDv1 prefix: version 1, raw codec (0x55), sha2-256 multihash (0x12) of 32 bytes (0x20).
    bytes4 private constant CID_PREFIX = 0x01551220;
    bytes32 private constant BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

    string private _name;
    string private _symbol;
    string private _contractURI;

    /// ERC-7572: collection metadata changed.
    event ContractURIUpdated();

    error MintBatchLengthMismatch(uint256 recipients, uint256 ids);

    constructor(
        string memory name_,
        string memory symbol_,
        address admin,
        address minter,
        address royaltyReceiver,
        uint96 royaltyBasisPoints,
        string memory contractURI_
    ) {
        _name = name_;
        _symbol = symbol_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, minter);
        _setDefaultRoyalty(royaltyReceiver, royaltyBasisPoints);
        _contractURI = contractURI_;
    }

    /// @notice Mints `id` to `to`. Reverts if the token already exists.
    function mint(address to, uint256 id) external onlyRole(MINTER_ROLE) {
        _mint(to, id);
    }

    /// @notice Mints `ids[i]` to `to[i]`, skipping IDs that already exist so that a retried
    /// batch is harmless. `to` may instead hold a single address that receives every ID (a
    /// custody batch), which saves a calldata word per token. Returns how many were created.
    function mintBatch(address[] calldata to, uint256[] calldata ids)
        external
        onlyRole(MINTER_ROLE)
        returns (uint256 minted)
    {
        uint256 n = ids.length;
        bool oneRecipient = to.length == 1;
        if (!oneRecipient && to.length != n) revert MintBatchLengthMismatch(to.length, n);
        for (uint256 i; i < n; ) {
            uint256 id = ids[i];
            if (!_exists(id)) {
                // Existence was just checked, so skip _mint's second look (extra data stays 0).
                _mintAndSetExtraDataUnchecked(oneRecipient ? to[0] : to[i], id, 0);
                unchecked { ++minted; }
            }
            unchecked { ++i; }
        }
    }

    function name() public view override returns (string memory) {
        return _name;
    }

    function symbol() public view override returns (string memory) {
        return _symbol;
    }

    /// @notice `ipfs://` followed by the CIDv1 (raw codec, sha2-256) whose digest is `id`.
    function tokenURI(uint256 id) public view override returns (string memory) {
        if (!_exists(id)) revert TokenDoesNotExist();
        return string.concat("ipfs://", cidOf(id));
    }

    /// @notice The base32 CIDv1 (raw codec, sha2-256) whose digest is `id`, as `ipfs add
    /// --cid-version=1` prints it.
    function cidOf(uint256 id) public pure returns (string memory) {
        bytes memory raw = abi.encodePacked(CID_PREFIX, id); // 36 bytes
        bytes memory out = new bytes(59); // "b" + ceil(288 / 5) base32 digits
        out[0] = "b";
        uint256 buffer;
        uint256 bits;
        uint256 j = 1;
        for (uint256 i; i < raw.length; ++i) {
            buffer = (buffer << 8) | uint8(raw[i]);
            bits += 8;
            while (bits >= 5) {
                bits -= 5;
                out[j++] = BASE32_ALPHABET[(buffer >> bits) & 31];
            }
        }
        if (bits > 0) {
            out[j] = BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
        }
        return string(out);
    }

    /// @notice Collection-level metadata (ERC-7572).
    function contractURI() external view returns (string memory) {
        return _contractURI;
    }

    function setContractURI(string calldata uri) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _contractURI = uri;
        emit ContractURIUpdated();
    }

    /// @notice Sets the ERC-2981 royalty receiver and rate (basis points) for every token.
    function setDefaultRoyalty(address receiver, uint96 basisPoints)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _setDefaultRoyalty(receiver, basisPoints);
    }

    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721, ERC2981, AccessControl)
        returns (bool)
    {
        // Solady's ERC721 answers for ERC-165, 721 and 721 Metadata; OpenZeppelin's bases for
        // ERC-2981 and AccessControl. Their supportsInterface functions do not chain via super.
        return ERC721.supportsInterface(interfaceId) || ERC2981.supportsInterface(interfaceId)
            || AccessControl.supportsInterface(interfaceId);
    }
}
