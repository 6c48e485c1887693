// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// A smart wallet for tests, as EIP-1271 describes one: it stands behind a signature of a hash
/// by its one owner key. The owner sits in storage slot 0, so a test places the wallet with
/// anvil_setCode and names its owner with anvil_setStorageAt.
contract OwnedWallet {
    address public owner;

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
