"""Drop gates: who may claim a drop. A drop stores its gates as data, a list of
`{"kind": ..., "params": {...}}`; each kind is a class registered by name in `bot.registry`
(one module here per built-in kind). This module turns stored gates into gate objects and back,
and decides a claim against all of a drop's gates."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import bot.registry  # noqa: F401  (fills GATES with the built-in kinds)
from bot.i18n import N_, _
from bot.i18n.said import said
from bot.ports import (
    GATES,
    Allowance,
    Claimant,
    DropGate,
    GatedDrop,
    GateLookups,
    LimitingGate,
    LookingGate,
    Refusal,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkWallet(Refusal):
    """A refusal the claimant lifts by linking a wallet: it holds for an airdrop to them too,
    since the drop mints to members' own wallets only."""


def elsewhere(claimant: Claimant, drop: GatedDrop) -> Refusal | None:
    """What the platform vouches for (roles, membership) means something only on the drop's
    own platform: a claim from any other is refused."""
    if claimant.platform == drop.platform:
        return None
    return Refusal(
        said(
            N_("{drop} can be claimed only from its own {platform} community."),
            drop=drop.name,
            platform=drop.platform,
        )
    )


@dataclass(frozen=True)
class UnknownGate:
    """A stored gate this bot cannot read (a kind it does not know, or parameters its kind
    refuses): it refuses every claim, so nobody slips past a condition meant to hold."""

    kind: ClassVar[str] = "unknown"
    stored_kind: str
    stored_params: Mapping[str, Any]
    problem: str

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DropGate:
        return cls("unknown", params, "no gate kind")

    def check(self, claimant: Claimant, drop: GatedDrop) -> Refusal | None:
        # The problem stays English: it names what is stored, for the admin to look up.
        return Refusal(
            said(
                N_(
                    "{drop} has a claim condition this bot cannot check ({problem}); "
                    "ask an admin of the drop."
                ),
                drop=drop.name,
                problem=self.problem,
            )
        )

    def params(self) -> dict[str, Any]:
        return dict(self.stored_params)

    def describe(self) -> str:
        return _("a condition this bot cannot check ({problem})").format(problem=self.problem)


def load_gates(stored: object) -> tuple[DropGate, ...]:
    """The gate objects of a drop's stored gates; anything unreadable is an `UnknownGate`."""
    if not isinstance(stored, list):
        return (UnknownGate("?", {}, "the gates are not a list"),)
    return tuple(_load(entry) for entry in stored)


def _load(entry: object) -> DropGate:
    if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str):
        return UnknownGate("?", {}, "a gate without a kind")
    kind, params = entry["kind"], entry.get("params", {})
    if kind not in GATES:
        return UnknownGate(kind, {}, f"unknown kind {kind!r}")
    if not isinstance(params, dict):
        return UnknownGate(kind, {}, f"{kind} gate without parameters")
    try:
        return GATES.get(kind).from_params(params)
    except ValueError as err:
        return UnknownGate(kind, params, f"{kind} gate: {err}")


def store_gates(gates: Iterable[DropGate]) -> list[dict[str, Any]]:
    """The gates as a drop stores them. Raises `ValueError` for a kind not registered, which
    could not be read back."""
    stored = []
    for gate in gates:
        if gate.kind not in GATES:
            raise ValueError(f"no drop gate kind {gate.kind!r} is registered")
        stored.append({"kind": gate.kind, "params": gate.params()})
    return stored


def first_refusal(
    gates: Sequence[DropGate],
    claimant: Claimant,
    drop: GatedDrop,
    *,
    only: type[Refusal] = Refusal,
) -> Refusal | None:
    """Why the first gate that turns `claimant` away does so (counting only refusals of the
    kind `only`), or None if all let them in. A gate that fails while checking refuses this
    claim alone."""
    for gate in gates:
        try:
            looked = claimant.facts.get(gate) if isinstance(gate, LookingGate) else None
            if isinstance(looked, Exception):  # its lookup failed
                raise looked
            refusal = gate.check(claimant, drop)
        except Exception:
            log.exception("checking the %s gate of drop %d failed", gate.kind, drop.id)
            refusal = Refusal(
                said(
                    N_("{drop}'s claim conditions could not be checked just now; try again later."),
                    drop=drop.name,
                )
            )
        if isinstance(refusal, only):
            return refusal
    return None


class LookUpFirst(Exception):
    """A claim reached the claim writer without what its drop's looking gates need: the
    caller looks it up (`look_up`) and submits the claim again."""

    def __init__(self, gates: Sequence[DropGate], claimant: Claimant, drop: GatedDrop) -> None:
        super().__init__(f"drop #{drop.id}: look up what its gates need first")
        self.gates = gates
        self.claimant = claimant
        self.drop = drop


def unlooked(gates: Sequence[DropGate], claimant: Claimant) -> list[LookingGate]:
    """The looking gates whose facts `claimant` does not carry yet."""
    return [g for g in gates if isinstance(g, LookingGate) and g not in claimant.facts]


async def look_up(
    gates: Sequence[DropGate], claimant: Claimant, drop: GatedDrop, lookups: GateLookups
) -> dict[DropGate, Any]:
    """What each looking gate needs to know of `claimant`, as `claimant.facts`. A lookup that
    fails stores the failure, so that gate (and this claim alone) is refused."""
    facts: dict[DropGate, Any] = dict(claimant.facts)
    for gate in unlooked(gates, claimant):
        try:
            facts[gate] = await gate.look_up(claimant, drop, lookups)
        except Exception as err:
            log.warning("looking up the %s gate of drop %d failed: %r", gate.kind, drop.id, err)
            facts[gate] = err
    return facts


def claim_limit(
    gates: Sequence[DropGate], claimant: Claimant, drop: GatedDrop, default: int
) -> Allowance:
    """How many editions `claimant` may claim: the smallest allowance a limiting gate gives
    them, else the drop's per-member limit `default`."""
    allowances = [
        a
        for g in gates
        if isinstance(g, LimitingGate) and (a := g.allowance(claimant, drop)) is not None
    ]
    return min(allowances, key=lambda a: a.editions, default=Allowance(default))


def gates_for(
    role_ids: Iterable[str] = (), *, chat_member: bool = False, linked_wallet: bool = False
) -> list[DropGate]:
    """The built-in gates as the drop-creating commands offer them: one of these roles,
    membership of the chat, a linked wallet."""
    gates = []
    roles = sorted(set(role_ids))
    if roles:
        gates.append(GATES.get("role").from_params({"role_ids": roles}))
    if chat_member:
        gates.append(GATES.get("chat_member").from_params({}))
    if linked_wallet:
        gates.append(GATES.get("linked_wallet").from_params({}))
    return gates
