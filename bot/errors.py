"""Typed errors of the core. Each carries a message fit to show a user or an operator as is."""

from __future__ import annotations

from datetime import datetime

from bot.i18n import N_
from bot.i18n.said import Arg, Said


class MintbotError(Exception):
    """Base of every error the bot raises on purpose.

    Raised with a msgid marked by `N_` and the values of its placeholders
    (`ImageRejected(N_("over {most} MB"), most=20)`), or with a `Said`. `str(err)` is the
    message in English (logs, stored columns); `err.text()` is it in the language of the
    request being answered, and `err.said` keeps it untranslated to store or pass on.
    """

    def __init__(self, message: str | Said = "", /, **args: Arg) -> None:
        self.said = message if isinstance(message, Said) else Said(message, args)
        super().__init__(str(self.said))

    def text(self) -> str:
        return self.said.text()

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled (a content worker's refusal, sent to the bot's process) with its `said` and
        # any field a subclass adds, whatever that subclass's constructor takes.
        return _revived, (type(self), dict(self.__dict__))


def _revived(cls: type[MintbotError], state: dict[str, object]) -> MintbotError:
    err = cls.__new__(cls)
    Exception.__init__(err, str(state["said"]))
    err.__dict__.update(state)
    return err


class ConfigError(MintbotError):
    """A setting is missing or wrong. The message names the setting and what is wrong."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


class ToolMissing(MintbotError):
    """An external tool the command needs (node, solc, anvil) is not installed."""


class ChainError(MintbotError):
    """The chain cannot be used as configured: unreachable RPC, wrong chain, missing contract."""


class FeeCapExceeded(ChainError):
    """The network's base fee is above MAX_FEE_PER_GAS_GWEI: sending now would break the cap."""

    def __init__(self, base_fee: int, cap: int) -> None:
        super().__init__(
            N_(
                "the network fee is {fee} gwei, above the cap of {cap} gwei "
                "(MAX_FEE_PER_GAS_GWEI); minting waits until it falls"
            ),
            fee=f"{base_fee / 1e9:.3f}",
            cap=f"{cap / 1e9:.3f}",
        )
        self.base_fee = base_fee
        self.cap = cap


class TransactionReverted(ChainError):
    """A transaction was mined but reverted."""


class ContentWorkersFailed(MintbotError):
    """The worker processes that prepare content cannot run at all (a fault of the machine,
    not of any request): the requests wait for a later try."""


class RequestRejected(MintbotError):
    """Bad input: the request is refused with this reason before anything costly happens."""


class ImageRejected(RequestRejected):
    """The attachment is not an acceptable image (format, size, pixels, damage)."""


class TextRejected(RequestRejected):
    """A name or description cannot be used (empty, too long, mentions or markup)."""


class RequestConflict(RequestRejected):
    """The same message key arrived again with different content (an edited message)."""


class NotAllowed(RequestRejected):
    """The user may not do this here (a role, a channel, an admin-only command)."""


class MintingPaused(RequestRejected):
    """An admin paused minting in this community."""


class RateLimited(RequestRejected):
    """Too many requests from this user or community in the current window."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, round(retry_after + 0.499))
        super().__init__(
            N_("You are minting too fast; try again in {seconds} s."), seconds=self.retry_after
        )


class DropNotFound(RequestRejected):
    """No drop with this number (in this community)."""


class DropNotOpen(RequestRejected):
    """The drop has not started yet."""


class DropClosed(RequestRejected):
    """The drop ended, or an admin closed it early."""


class DropSoldOut(RequestRejected):
    """Every edition of the drop is claimed."""


class DropLimitReached(RequestRejected):
    """The claimer has as many editions of this drop as one member may claim."""


class DropNeedsWallet(RequestRejected):
    """The drop mints only to linked addresses, and the claimer has none."""


class AllowlistRefused(RequestRejected):
    """An allowlist file has bad lines (each named by its number) or breaks a limit: the whole
    upload is refused and nothing changes."""


class CodeRefused(RequestRejected):
    """A code given to claim a drop is wrong, used already, or not how this drop is claimed."""


class CodeLocked(CodeRefused):
    """Too many wrong codes: no code is checked for this member (or drop) until `until`."""

    def __init__(self, message: str | Said, until: datetime) -> None:
        super().__init__(message)
        self.until = until
