// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {LibClone} from "solady/src/utils/LibClone.sol";

/// What the factory calls on a new clone: MintbotCollection's and MintbotEditions' initializer.
interface IMintbotInitializable {
    function initialize(
        string calldata name_,
        string calldata symbol_,
        address owner_,
        address admin,
        address minter,
        address royaltyReceiver,
        uint96 royaltyBasisPoints,
        string calldata contractURI_
    ) external;
}

/// @title mintbot factory
/// @notice Creates a community's collection (ERC-721) or editions (ERC-1155) contract as an
/// ERC-1167 minimal proxy of an implementation deployed once per chain, and initialises it in
/// the same call, so nobody can initialise a clone in between. Addresses are deterministic:
/// the CREATE2 salt is bound to the caller, so nobody can take a caller's address first, and
/// a salt used once cannot be used again (CREATE2 fails).
contract MintbotFactory {
    address public immutable collectionImplementation;
    address public immutable editionsImplementation;

    event CollectionCreated(address indexed deployer, bytes32 indexed salt, address collection);
    event EditionsCreated(address indexed deployer, bytes32 indexed salt, address editions);

    constructor(address collectionImplementation_, address editionsImplementation_) {
        collectionImplementation = collectionImplementation_;
        editionsImplementation = editionsImplementation_;
    }

    function createCollection(
        bytes32 salt,
        string calldata name_,
        string calldata symbol_,
        address owner_,
        address admin,
        address minter,
        address royaltyReceiver,
        uint96 royaltyBasisPoints,
        string calldata contractURI_
    ) external returns (address collection) {
        collection = LibClone.cloneDeterministic(collectionImplementation, _salt(msg.sender, salt));
        IMintbotInitializable(collection).initialize(
            name_, symbol_, owner_, admin, minter, royaltyReceiver, royaltyBasisPoints, contractURI_
        );
        emit CollectionCreated(msg.sender, salt, collection);
    }

    function createEditions(
        bytes32 salt,
        string calldata name_,
        string calldata symbol_,
        address owner_,
        address admin,
        address minter,
        address royaltyReceiver,
        uint96 royaltyBasisPoints,
        string calldata contractURI_
    ) external returns (address editions) {
        editions = LibClone.cloneDeterministic(editionsImplementation, _salt(msg.sender, salt));
        IMintbotInitializable(editions).initialize(
            name_, symbol_, owner_, admin, minter, royaltyReceiver, royaltyBasisPoints, contractURI_
        );
        emit EditionsCreated(msg.sender, salt, editions);
    }

    /// @notice The address `createCollection` gives `deployer` for `salt`.
    function predictCollection(address deployer, bytes32 salt) external view returns (address) {
        return LibClone.predictDeterministicAddress(
            collectionImplementation, _salt(deployer, salt), address(this)
        );
    }

    /// @notice The address `createEditions` gives `deployer` for `salt`.
    function predictEditions(address deployer, bytes32 salt) external view returns (address) {
        return LibClone.predictDeterministicAddress(
            editionsImplementation, _salt(deployer, salt), address(this)
        );
    }

    function _salt(address deployer, bytes32 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(deployer, salt));
    }
}
