// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// A contract wallet that accepts ERC-1155 tokens, as ERC-1155 asks of a contract recipient.
contract EditionsReceiver {
    function onERC1155Received(address, address, uint256, uint256, bytes calldata)
        external
        pure
        returns (bytes4)
    {
        return this.onERC1155Received.selector;
    }
}
