// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// A smart wallet for tests, as EIP-1271 describes one: it stands behind a signature of a hash
/// by its one owner key. The owner sits in storage slot 0, so a test places the wallet with
/// anvil_setCode and names its owner with anvil_setStorageAt.
contract OwnedWallet {
    address public owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature)
        external
        view
        returns (bytes4)
    {
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecover(hash, signature);
        if (error == ECDSA.RecoverError.NoError && signer == owner) {
            return this.isValidSignature.selector; // 0x1626ba7e, the magic value
        }
        return 0xffffffff;
    }
}

/// Makes OwnedWallets at addresses known before they exist (CREATE2), as smart wallet
/// factories do: what an ERC-6492 signature of a wallet not deployed yet names.
contract OwnedWalletFactory {
    function deploy(address owner, bytes32 salt) external returns (address) {
        return address(new OwnedWallet{salt: salt}(owner));
    }
}
