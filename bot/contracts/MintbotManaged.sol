// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title what a mintbot collection and a mintbot editions contract share
/// @notice Name and symbol, the owner marketplaces show, roles, royalties and collection-level
/// metadata, set once: by the constructor for a contract deployed directly, by `initialize`
/// for an ERC-1167 clone (which runs no constructor). Both go through `_initialize`, so a
/// deployed contract (the clones' implementation included) can never be initialised again.
/// @dev The hot wallet holds only MINTER_ROLE; DEFAULT_ADMIN_ROLE belongs to the operator's
/// admin address (which may renounce it) and to the owner, the community's own address.
abstract contract MintbotManaged is ERC2981, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    bool private _initialized;
    address private _owner;
    string internal _name;
    string internal _symbol;
    string private _contractURI;

    /// ERC-7572: collection metadata changed.
    event ContractURIUpdated();
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error AlreadyInitialized();

    /// @notice Sets what the constructor of a directly deployed contract sets; a clone's
    /// factory calls it in the transaction that creates the clone. Once only.
    function initialize(
        string memory name_,
        string memory symbol_,
        address owner_,
        address admin,
        address minter,
        address royaltyReceiver,
        uint96 royaltyBasisPoints,
        string memory contractURI_
    ) external {
        _initialize(
            name_, symbol_, owner_, admin, minter, royaltyReceiver, royaltyBasisPoints, contractURI_
        );
    }

    function _initialize(
        string memory name_,
        string memory symbol_,
        address owner_,
        address admin,
        address minter,
        address royaltyReceiver,
        uint96 royaltyBasisPoints,
        string memory contractURI_
    ) internal {
        if (_initialized) revert AlreadyInitialized();
        _initialized = true;
        _name = name_;
        _symbol = symbol_;
        _owner = owner_;
        emit OwnershipTransferred(address(0), owner_);
        // _grantRole does nothing for an account that holds the role already (owner == admin).
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(DEFAULT_ADMIN_ROLE, owner_);
        _grantRole(MINTER_ROLE, minter);
        _setDefaultRoyalty(royaltyReceiver, royaltyBasisPoints);
        _contractURI = contractURI_;
    }

    /// @notice The address marketplaces let edit the collection page: the community's own.
    function owner() external view returns (address) {
        return _owner;
    }

    /// @notice Names another owner; roles are unchanged (grant or revoke them separately).
    function transferOwnership(address newOwner) external onlyRole(DEFAULT_ADMIN_ROLE) {
        emit OwnershipTransferred(_owner, newOwner);
        _owner = newOwner;
    }

    /// @notice Collection-level metadata (ERC-7572).
    function contractURI() external view returns (string memory) {
        return _contractURI;
    }

    function setContractURI(string calldata uri_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _contractURI = uri_;
        emit ContractURIUpdated();
    }

    /// @notice Sets the ERC-2981 royalty receiver and rate (basis points) for every token.
    function setDefaultRoyalty(address receiver, uint96 basisPoints)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _setDefaultRoyalty(receiver, basisPoints);
    }

    /// @dev ERC-2981 and AccessControl; each token standard adds its own interfaces.
    function supportsInterface(bytes4 interfaceId)
        public
        view
        virtual
        override(ERC2981, AccessControl)
        returns (bool)
    {
        return ERC2981.supportsInterface(interfaceId) || AccessControl.supportsInterface(interfaceId);
    }
}
