// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title content identifiers of token IDs
/// @notice A token ID is the sha2-256 digest of its content, so its CID follows from the ID and
/// nothing per token is stored: the collection's tokenURI and the editions' uri share this code.
library ContentId {
    /// CIDv1 prefix: version 1, raw codec (0x55), sha2-256 multihash (0x12) of 32 bytes (0x20).
    bytes4 private constant CID_PREFIX = 0x01551220;
    bytes32 private constant BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

    /// @notice The base32 CIDv1 (raw codec, sha2-256) whose digest is `id`, as `ipfs add
    /// --cid-version=1` prints it.
    function cidOf(uint256 id) internal pure returns (string memory) {
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

    /// @notice `ipfs://` followed by `cidOf(id)`.
    function uriOf(uint256 id) internal pure returns (string memory) {
        return string.concat("ipfs://", cidOf(id));
    }
}
