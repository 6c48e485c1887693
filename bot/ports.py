"""The seams of the bot: what a chat platform, a chain backend, a pinning backend and a drop
gate must provide, and the registries through which implementations make themselves known by
name.

The core (minting, drops, engagement, the web pages) depends on these protocols only; it never
names a platform, a chain or a gate kind. An implementation is one package or module plus one
line in its registry, and the composition root (`bot.app`) builds the runtime from what the
registries hold.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from aiohttp.web import Application
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.chain.fees import Fees
    from bot.communities import Asker
    from bot.config import Settings
    from bot.i18n.said import Said
    from bot.minting.types import MintResult

T = TypeVar("T")


# ----- chat platforms -------------------------------------------------------------------------


class NotReachableHere(LookupError):
    """Raised by an answerer whose asker is on a chat platform this process does not run
    (yet): the answer waits for it, and the wait is not counted as a failed try."""


@runtime_checkable
class Answerer(Protocol):
    """Whoever answers the requests of one origin (a chat platform answers its own members'
    requests; drops answer their claims through the claimer's platform)."""

    async def deliver(self, result: MintResult) -> None:
        """Give `result` to whoever asked. Returning means answered; raising means "try
        again later" (the pipeline backs off, bounded, and records the error);
        `NotReachableHere` means "not from this process now" (it waits, uncounted)."""


@runtime_checkable
class ChatPlatform(Answerer, Protocol):
    """A running chat platform as the core sees it. `name` is the platform part of every
    request key it makes ("discord", "telegram", ...)."""

    name: str

    async def announce(self, result: MintResult, channel_id: str, locale: str | None) -> None:
        """Post a confirmed mint in a community's announcement channel, in the language the
        community set for its public posts (`locale`; None: the platform's default)."""

    async def tell_claimer(self, result: MintResult) -> None:
        """Tell a member the outcome of their drop claim (made on this platform)."""

    async def tell_admins(self, text: str) -> None:
        """Tell the operators something that needs them (a low hot-wallet balance), where
        this platform's settings say they read; do nothing where none is set."""

    async def member(self, community_id: str, user_id: str) -> Asker | None:
        """The member `user_id` of `community_id` as the platform knows them now (their roles,
        whether they are an admin), or None when they are not a member."""

    async def run(self) -> None:
        """Connect and serve until cancelled; raise if the platform cannot run at all (a bad
        token, say), which stops the bot with that error."""


R = TypeVar("R")


@dataclass(frozen=True)
class PlatformKind(Generic[R]):
    """A chat platform as the registry knows it before anything runs. `R` is the runtime it
    is built on (`bot.app.Runtime`; generic so that this module needs nothing of the app)."""

    name: str
    # How people call the platform and its communities: "Discord", "Discord server".
    label: str
    community_label: str
    # Is it configured in these settings (its token is set)?
    configured: Callable[[Settings], bool]
    # Build the running platform on the runtime; `routes` is the bot's own web application,
    # where a platform may add routes (a webhook) before the server starts.
    build: Callable[[R, Application], ChatPlatform]
    # Runs when no other platform is configured (the local console).
    fallback: bool = False


class RunningPlatforms:
    """The chat platforms running in this process, by name: how the core reaches a member
    on the platform their request came from."""

    def __init__(self) -> None:
        self._running: dict[str, ChatPlatform] = {}
        self._listeners: list[Callable[[ChatPlatform], None]] = []

    def add(self, platform: ChatPlatform) -> None:
        self._running[platform.name] = platform
        for listener in list(self._listeners):
            listener(platform)

    def on_add(self, listener: Callable[[ChatPlatform], None]) -> None:
        """Call `listener` with every platform added from now on (the core tells a platform
        that starts late what it would have heard, and gives it the answers it missed)."""
        self._listeners.append(listener)

    def get(self, name: str) -> ChatPlatform | None:
        return self._running.get(name)

    def __iter__(self) -> Iterator[ChatPlatform]:
        return iter(list(self._running.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._running


# ----- chain backends ---------------------------------------------------------------------------


@runtime_checkable
class ChainBackend(Protocol):
    """A chain the bot mints on, as the core sees it: what it costs, what the hot wallet
    holds, and how a mint or a transfer is encoded for the transaction engine to sign, send
    and watch."""

    chain_id: int

    async def fees(self) -> Fees:
        """The fees to offer now, within the configured caps."""

    async def balance(self) -> int:
        """The hot wallet's balance in the chain's smallest unit."""

    def encode_mint(self, recipients: list[str], token_ids: list[int]) -> bytes:
        """Calldata minting `token_ids` to `recipients` (skipping IDs that exist)."""

    def encode_transfer(self, owner: str, to: str, token_id: int) -> bytes:
        """Calldata moving `token_id` from `owner` to `to`."""


B = TypeVar("B", bound=ChainBackend)


@dataclass(frozen=True)
class ChainKind(Generic[B]):
    """A kind of chain as the registry knows it: how to open it from the settings (CHAIN_KIND
    names the kind). `B` is the backend it opens."""

    name: str
    # Open the chain for these settings: an async context manager yielding the backend.
    open: Callable[[Settings], AbstractAsyncContextManager[B]]


# ----- pinning backends -------------------------------------------------------------------------


class PinRefused(Exception):
    """A pinning backend's definitive no for this content (a block it will not take, a CAR it
    finds malformed): trying again would not help. Any other exception from a backend is
    taken as transient (unreachable, 429, 5xx, a timeout) and retried with back-off."""


@dataclass(frozen=True)
class BackendCheck:
    """One line of `doctor` for a pinning backend: what was checked, whether it passed, and
    a detail for the operator (never a credential)."""

    what: str
    ok: bool
    detail: str = ""


@runtime_checkable
class PinningBackend(Protocol):
    """A service that keeps content on public IPFS (a kubo node, a hosted pinning service).
    The bot hands it whole DAGs as CAR files, so the CIDs are the bot's own, exactly."""

    name: str  # the name PINNING gives it, recorded with every pin it holds

    async def pin_car(self, car: bytes, roots: Sequence[str]) -> None:
        """Import the CAR's blocks and pin each of `roots` with everything below it. Returns
        once the backend has them pinned; raises `PinRefused` for a definitive refusal,
        anything else for a transient fault."""

    async def fetch_block(self, cid: str) -> bytes:
        """The raw bytes of one block, read back from the backend (or the gateway that serves
        what it pins). Raises if it cannot be had now."""

    async def pinned(self, cids: Sequence[str]) -> set[str]:
        """Those of `cids` that the backend holds pinned now."""

    async def check(self) -> list[BackendCheck]:
        """For `doctor`: reachable, credentials accepted, and a test pin of a tiny block and
        its removal."""

    async def close(self) -> None:
        """Release connections."""


@dataclass(frozen=True)
class PinningKind:
    """A kind of pinning backend as the registry knows it (PINNING names kinds)."""

    name: str
    # The backend for these settings; raises `ConfigError` naming a setting it lacks.
    open: Callable[[Settings], PinningBackend]


# ----- drop gates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimant:
    """Who claims a drop, as their platform vouches for them."""

    platform: str
    user_id: str
    role_ids: frozenset[str] = frozenset()
    # Does the platform say they belong to the drop's community (chat)?
    is_member: bool = False
    linked_address: str | None = None
    # What each gate that looks things up (`LookingGate`) found for this claim, by gate: the
    # drops core fills it in before the claim is decided.
    facts: Mapping[DropGate, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GatedDrop:
    """What a gate may look at of the drop being claimed."""

    id: int
    name: str
    platform: str
    community_id: str


@dataclass(frozen=True)
class Refusal:
    """Why a gate turns a claimant away, in words the claimant reads: a `Said`, since a
    claim is decided in a group commit that may run in another member's task, and is
    translated where the claimant is answered."""

    reason: str | Said


class DropGate(Protocol):
    """One condition on who may claim a drop. A gate is built from its stored parameters
    (`from_params`) and describes itself back (`params`), so a drop's gates are data: a list
    of `{"kind": ..., "params": ...}` on the drop."""

    kind: ClassVar[str]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DropGate:
        """The gate stored with `params`; raise `ValueError` (in words an admin reads) if
        they do not describe one."""

    def check(self, claimant: Claimant, drop: GatedDrop) -> Refusal | None:
        """None if `claimant` may claim `drop`, else why not."""

    def params(self) -> dict[str, Any]:
        """The JSON-able parameters this gate is stored with."""

    def describe(self) -> str:
        """The condition in a few words, for drop listings ("holders of role 123")."""


class Holdings(Protocol):
    """Token balances as the chain reports them."""

    async def held(self, contract: str, owner: str, token_id: int | None = None) -> int:
        """How many tokens of `contract` `owner` holds (of `token_id`, for an ERC-1155)."""


@dataclass(frozen=True)
class GateLookups:
    """What a gate may consult to look things up: the database, and the chain's balances
    (None where this process reads no chain)."""

    sessions: async_sessionmaker[AsyncSession]
    holdings: Holdings | None = None


@runtime_checkable
class LookingGate(DropGate, Protocol):
    """A gate whose check needs what takes I/O to learn (a list in the database, a balance
    on chain). The core calls `look_up` before deciding a claim, outside the claim's
    transaction, and hands the result to `check` as `claimant.facts[gate]`."""

    async def look_up(self, claimant: Claimant, drop: GatedDrop, lookups: GateLookups) -> Any:
        """What `check` needs to know of `claimant` (whose `linked_address` is set)."""


@dataclass(frozen=True)
class Allowance:
    """How many editions a limiting gate lets a claimant claim, and whose count they come out
    of: the claimant's own (`shared` None), or one count for everyone who holds `shared` (an
    allowlisted address is one entry, however many members verified it)."""

    editions: int
    shared: str | None = None


@runtime_checkable
class LimitingGate(DropGate, Protocol):
    """A gate that sets how many editions each claimant it lets through may claim (an
    allowlist entry's allowance), in place of the drop's per-member limit."""

    def allowance(self, claimant: Claimant, drop: GatedDrop) -> Allowance | None:
        """The claimant's limit, or None to leave the drop's."""


# ----- registries -------------------------------------------------------------------------------


class Registry(Generic[T]):
    """Implementations by name. An entry is registered either as the object itself or as the
    "module:attribute" where it lives, imported on first use, so that a platform's library
    (discord.py, python-telegram-bot) is imported only by a bot that runs it."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T | str] = {}

    def register(self, name: str, entry: T | str) -> None:
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self._entries[name] = entry

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        try:
            entry = self._entries[name]
        except KeyError:
            raise LookupError(f"no {self.what} named {name!r}") from None
        if isinstance(entry, str):
            module, _, attribute = entry.partition(":")
            entry = getattr(importlib.import_module(module), attribute)
            self._entries[name] = entry
        return entry  # type: ignore[return-value]

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        return (self.get(name) for name in self.names())


# Filled by `bot.registry`, one line per implementation.
PLATFORMS: Registry[PlatformKind[Any]] = Registry("chat platform")
CHAINS: Registry[ChainKind[Any]] = Registry("chain kind")
GATES: Registry[type[DropGate]] = Registry("drop gate")
PINNERS: Registry[PinningKind] = Registry("pinning backend")
