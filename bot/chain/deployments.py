"""Where the collection lives on each chain, as recorded under DATA_DIR/deployments/ (read
without the chain stack, so commands that only read records can name the collection)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Deployment:
    """Where the collection lives on one chain; saved under DATA_DIR/deployments/."""

    chain_id: int
    address: str
    tx_hash: str
    block_number: int
    # The factory of community collections, deployed with the collection or after it.
    factory: str | None = None

    @staticmethod
    def path(deployments_dir: Path, chain_id: int) -> Path:
        return deployments_dir / f"{chain_id}.json"

    @classmethod
    def load(cls, deployments_dir: Path, chain_id: int) -> Deployment | None:
        path = cls.path(deployments_dir, chain_id)
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))

    def save(self, deployments_dir: Path) -> Path:
        deployments_dir.mkdir(parents=True, exist_ok=True)
        path = self.path(deployments_dir, self.chain_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)
        return path
