// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC721} from "solady/src/tokens/ERC721.sol";
import {ContentId} from "./ContentId.sol";
import {MintbotManaged} from "./MintbotManaged.sol";

/// @title mintbot collection
/// @notice ERC-721 whose token IDs are content addresses: a token's ID is the sha2-256 digest of
/// its metadata block, so `tokenURI` is derived from the ID and nothing per token is stored
/// beyond what ERC-721 itself needs. Because the ID follows from the content, minting the same
/// request twice cannot create a second token: `mint` reverts and `mintBatch` skips it.
/// @dev No token logic of our own: ERC-721 is Solady's (its assembly mint is what brings a batched
/// mint under 26k gas per token), roles and royalties are OpenZeppelin's (see MintbotManaged).
/// Deployed directly (the shared collection) or cloned by MintbotFactory for one community.
contract MintbotCollection is ERC721, MintbotManaged {
    error MintBatchLengthMismatch(uint256 recipients, uint256 ids);

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
        return ContentId.uriOf(id);
    }

    /// @notice The base32 CIDv1 (raw codec, sha2-256) whose digest is `id`, as `ipfs add
    /// --cid-version=1` prints it.
    function cidOf(uint256 id) external pure returns (string memory) {
        return ContentId.cidOf(id);
    }

    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721, MintbotManaged)
        returns (bool)
    {
        // Solady's ERC721 answers for ERC-165, 721 and 721 Metadata; MintbotManaged for
        // ERC-2981 and AccessControl. Their supportsInterface functions do not chain via super.
        return ERC721.supportsInterface(interfaceId)
            || MintbotManaged.supportsInterface(interfaceId);
    }
}
