// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface IERC1271 {
    function isValidSignature(bytes32 hash, bytes calldata signature)
        external
        view
        returns (bytes4);
}

/// ERC-6492's deploy-less signature check: never deployed, only run by `eth_call` as creation
/// code followed by its constructor's arguments. The constructor answers one byte: 1 if the
/// smart wallet `signer` stands behind `signature` of `hash` (EIP-1271), else 0.
///
/// A signature ending in the ERC-6492 suffix wraps (factory, factoryCalldata, signature) of a
/// wallet that may not be deployed yet: if `signer` has no code, calling the factory deploys it
/// inside the call (an eth_call persists nothing), then the wallet itself is asked.
contract MintbotSignatureCheck {
    bytes32 private constant ERC6492_SUFFIX =
        0x6492649264926492649264926492649264926492649264926492649264926492;
    bytes4 private constant EIP1271_MAGIC = 0x1626ba7e;

    constructor(address signer, bytes32 hash, bytes memory signature) {
        bool valid = _accepted(signer, hash, signature);
        assembly {
            mstore(0, valid)
            return(31, 1)
        }
    }

    function _accepted(address signer, bytes32 hash, bytes memory signature)
        private
        returns (bool)
    {
        if (_wrapped(signature)) {
            assembly {
                mstore(signature, sub(mload(signature), 32)) // drop the suffix
            }
            (address factory, bytes memory factoryCalldata, bytes memory inner) =
                abi.decode(signature, (address, bytes, bytes));
            if (signer.code.length == 0) {
                (bool deployed,) = factory.call(factoryCalldata);
                if (!deployed) return false;
            }
            signature = inner;
        }
        // An account without code is an ordinary key's: the bot recovers those itself.
        if (signer.code.length == 0) return false;
        try IERC1271(signer).isValidSignature(hash, signature) returns (bytes4 magic) {
            return magic == EIP1271_MAGIC;
        } catch {
            return false;
        }
    }

    function _wrapped(bytes memory signature) private pure returns (bool ends) {
        uint256 length = signature.length;
        if (length < 32) return false;
        bytes32 last;
        assembly {
            last := mload(add(signature, length))
        }
        return last == ERC6492_SUFFIX;
    }
}
