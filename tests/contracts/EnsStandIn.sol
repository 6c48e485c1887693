// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// A stand-in for ENS's Universal Resolver at its mainnet address, for tests: it answers
/// `resolve(name, addr(node))` as the real one does for a name whose resolver holds an
/// address, from its own table (a test writes `addrOf[node]` with anvil_setStorageAt: slot 0).
contract EnsStandIn {
    mapping(bytes32 => address) public addrOf;

    function resolve(bytes calldata, bytes calldata data)
        external
        view
        returns (bytes memory, address)
    {
        require(bytes4(data[:4]) == 0x3b3b57de, "only addr(bytes32)");
        return (abi.encode(addrOf[bytes32(data[4:36])]), address(this));
    }
}
