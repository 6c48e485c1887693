"""What a community's admins are told of its minting (`/admin stats` on Discord, `/stats` on
Telegram): requests by phase and how many members asked, in the admin's language."""

from __future__ import annotations

from bot.i18n import N_, _

# The phases `MintService.community_stats` counts, as admins read them.
PHASES = {
    "received": N_("received"),
    "stored": N_("stored"),
    "queued": N_("queued"),
    "signed": N_("signed"),
    "sent": N_("sent"),
    "confirmed": N_("confirmed"),
    "replied": N_("replied"),
    "rejected": N_("rejected"),
    "failed": N_("failed"),
    "answer undeliverable": N_("answer undeliverable"),
}


def stats_lines(counts: dict[str, int]) -> list[str]:
    """'Creators: N' and one line per phase (in the phases' English order, so every language
    lists them alike); one line saying so when nothing was asked yet."""
    by_phase = dict(counts)
    creators = by_phase.pop("creators", 0)
    if not by_phase:
        return [_("No requests yet.")]
    lines = [f"{_(PHASES.get(phase, phase))}: {count}" for phase, count in sorted(by_phase.items())]
    return [_("Creators: {count}").format(count=creators), *lines]


def balance_line(address: str, balance: int, spent: int) -> str:
    """The hot wallet's balance and today's committed fees; `address` formatted by the caller."""
    return _(
        "Hot wallet {address}: {balance} in native currency; fees committed today (UTC): {spent}."
    ).format(address=address, balance=f"{balance / 1e18:.6f}", spent=f"{spent / 1e18:.6f}")


PAUSED = N_("Minting is paused here. Requests already made go on.")
RESUMED = N_("Minting is on again.")
