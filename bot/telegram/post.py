"""One Telegram message that answers mint requests, and its lines (see `bot.telegram.posts`).

Each member reads their own answer in their language (the locale recorded with the request);
a status message, read by the whole chat, is in the language of the member whose message it
replies to (its opener), the other members' lines included. So a line keeps how to render it,
and the message is rendered in the language that fits each time it is sent or edited.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from bot.i18n import speaking
from bot.i18n.said import Said
from bot.minting.types import MintResult
from bot.telegram.render import (
    board_html,
    esc,
    mention,
    minting,
    pending_line,
    result_html,
    result_line_html,
)

# HTML as the current locale says it: rendered when its message is sent or edited.
Rendered = Callable[[], str]


def _escaped(said: Said) -> str:
    return esc(said.text())


def rendering(html: str | Said) -> Rendered:
    """How to show a line's ending: a `Said` (a refusal) in the reader's language, escaped;
    HTML already rendered as it is."""
    return partial(_escaped, html) if isinstance(html, Said) else partial(str, html)


@dataclass(eq=False)
class Line:
    """One request's place in a message. `key`: the ID of the message that asked; `locale`:
    the language its member asked in."""

    key: str
    who: str
    name: str
    locale: str | None = None
    solo: Rendered = minting  # while it is the message's only line
    state: Rendered = pending_line  # on a status message
    final: bool = False

    def settle(self, solo: Rendered, state: Rendered | None = None) -> None:
        self.solo, self.state, self.final = solo, state or solo, True


class Post:
    """One bot message in a chat and the requests it answers."""

    def __init__(
        self,
        chat_id: int,
        reply_to: int | None,
        message_id: int | None = None,
        locale: str | None = None,
    ) -> None:
        self.chat_id = chat_id
        # The member's message it is a reply to; None: not known (rebuilt after a restart).
        self.reply_to = reply_to
        # The language of that member (its opener): the status message's language.
        self.locale = locale
        self.message_id = message_id
        self.lines: list[Line] = []
        self.version = 0  # bumped by every change
        self.shown = -1  # the version Telegram shows
        self.waiters: list[tuple[int, bool, asyncio.Future[None]]] = []
        self.task: asyncio.Task[None] | None = None
        self.changed = asyncio.Event()

    def add(self, line: Line) -> None:
        """In the order asked: a chat's message IDs grow with time."""
        bisect.insort(self.lines, line, key=lambda x: int(x.key))

    def line(self, key: str) -> Line | None:
        return next((line for line in self.lines if line.key == key), None)

    @property
    def settled(self) -> bool:
        return self.shown == self.version and all(line.final for line in self.lines)

    def html(self) -> str:
        # A reply reads as the answer to the message it replies to, so a line alone takes the
        # short form only there. Any other line names its member: a line left alone in a
        # message that replies to someone else (theirs was taken away or answered elsewhere)
        # would otherwise read as that other member's answer.
        if len(self.lines) == 1 and self.lines[0].key == str(self.reply_to):
            with speaking(self.lines[0].locale):  # a member's own answer: their language
                return self.lines[0].solo()
        with speaking(self.locale):  # the chat's status message: its opener's language
            return board_html([(x.who, x.name, x.state(), x.final) for x in self.lines])

    def urgent(self) -> bool:
        """Whether a member waits to see their request for the first time."""
        return any(first and not done.done() for _, first, done in self.waiters)

    def shown_up_to(self, version: int) -> None:
        self.shown = max(self.shown, version)
        for _, _, done in self._take(version):
            done.set_result(None)

    def failed(self, error: BaseException) -> None:
        for _, _, done in self._take(self.version):
            done.set_exception(error)

    def _take(self, version: int) -> list[tuple[int, bool, asyncio.Future[None]]]:
        taken = [w for w in self.waiters if w[0] <= version and not w[2].done()]
        self.waiters = [w for w in self.waiters if w[0] > version and not w[2].done()]
        return taken


def line_of(result: MintResult) -> Line:
    """A recorded request's line, pending: keyed by the message that asked, naming who asked."""
    reply = result.reply_to or {}
    who = mention(
        str(reply.get("asked_by", result.requester_id)),
        str(reply.get("asked_by_name", result.requester_name)),
    )
    key = str(reply.get("request_message_id", result.message_id))
    return Line(key, who, result.name, result.locale)


def settled(line: Line, result: MintResult) -> None:
    line.settle(partial(result_html, result), partial(result_line_html, result))


def replies_to(results: list[MintResult]) -> tuple[int | None, str | None]:
    """The member's message a shared message replies to, as recorded with its requests, and
    the language of the member who sent it (if one of them did)."""
    found = {(r.reply_to or {}).get("post_replies_to") for r in results} - {None}
    if len(found) != 1:
        return None, None
    opener = int(str(found.pop()))
    lines = {line_of(r).key: r.locale for r in results}
    return opener, lines.get(str(opener))
