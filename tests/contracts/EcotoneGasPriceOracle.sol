// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// The fee estimate of an OP-stack chain's GasPriceOracle predeploy since the Ecotone upgrade,
/// for a local chain that has none: the calldata gas of the transaction (4 per zero byte, 16
/// per other byte, plus 68 bytes for a signature), priced at the L1 base fee and the blob base
/// fee, each times its scalar, in units of 10^-6. Installed with anvil_setCode, so no
/// constructor runs: the L1 base fee is read from storage slot 0 (anvil_setStorageAt).
contract EcotoneGasPriceOracle {
    uint256 public l1BaseFee;
    uint32 public constant baseFeeScalar = 1368;
    uint32 public constant blobBaseFeeScalar = 810949;
    uint256 public constant blobBaseFee = 1;
    uint256 public constant DECIMALS = 6;

    function isEcotone() external pure returns (bool) {
        return true;
    }

    function getL1GasUsed(bytes memory data) public pure returns (uint256 total) {
        for (uint256 i = 0; i < data.length; i++) {
            total += data[i] == 0 ? 4 : 16;
        }
        total += 68 * 16;
    }

    function getL1Fee(bytes memory data) external view returns (uint256) {
        uint256 scaledBaseFee = uint256(baseFeeScalar) * 16 * l1BaseFee;
        uint256 scaledBlobBaseFee = uint256(blobBaseFeeScalar) * blobBaseFee;
        return (getL1GasUsed(data) * (scaledBaseFee + scaledBlobBaseFee)) / (16 * 10 ** DECIMALS);
    }
}
