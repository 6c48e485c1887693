"""A message kept untranslated until it is shown: its English msgid and its arguments.

A reply is often decided far from the member it answers: a refusal raised in a content worker
process, a failure stored with a request and shown after a restart, a claim settled in another
request's group commit. What is decided there is a `Said`; it becomes text in the language of
whoever shows it (`text()`, under `speaking`), and its English form (`str()`) is what logs,
webhooks and the database's readable columns keep. `to_json`/`from_json` carry it through the
database and across processes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from bot.i18n import _, translate

Arg = Union[str, int, float, "Said"]


@dataclass(frozen=True)
class Said:
    """`message` (an English msgid, marked with `N_`) with the values of its `{placeholders}`.

    An argument may itself be a `Said` (a reason inside a sentence), translated with it. A
    message without arguments is never formatted, so its text may hold braces of its own
    (a member's name quoted in an already-built message, for one).
    """

    message: str
    args: Mapping[str, Arg] = field(default_factory=dict)

    def text(self) -> str:
        """In the current locale (see `bot.i18n.speaking`)."""
        return self._render(_)

    def in_locale(self, locale: str) -> str:
        return self._render(lambda message: translate(message, locale))

    def __str__(self) -> str:
        return self._render(lambda message: message)

    def _render(self, tr: Callable[[str], str]) -> str:
        template = tr(self.message)
        if not self.args:
            return template
        values = {k: v._render(tr) if isinstance(v, Said) else v for k, v in self.args.items()}
        for text in (template, self.message):
            try:
                return text.format(**values)
            except (KeyError, IndexError, ValueError, AttributeError, TypeError):
                # A translation that lost or broke a placeholder (the catalogue tests refuse
                # one) must not cost the member their answer: say it in English; an English
                # text that cannot be formatted either is said as it is.
                continue
        return self.message

    def to_json(self) -> str:
        return json.dumps(_plain(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str | None) -> Said | None:
        """The `Said` stored as `data`; None for None or anything unreadable (an older row)."""
        if not data:
            return None
        try:
            return _revived(json.loads(data))
        except (ValueError, TypeError, KeyError):
            return None


def said(message: str, **args: Arg) -> Said:
    """Shorthand: `said(N_("Minted {name}"), name=n)`."""
    return Said(message, args)


def shown(message: str | Said) -> str:
    """A message as the current locale shows it: a `Said` translated, a plain string as it is."""
    return message.text() if isinstance(message, Said) else message


def _plain(said_: Said) -> dict[str, Any]:
    args = {k: _plain(v) if isinstance(v, Said) else v for k, v in said_.args.items()}
    return {"m": said_.message, "a": args} if args else {"m": said_.message}


def _revived(data: Mapping[str, Any]) -> Said:
    message = data["m"]
    if not isinstance(message, str):
        raise TypeError("a stored message is not text")
    args = {
        str(k): _revived(v) if isinstance(v, Mapping) else _arg(v)
        for k, v in dict(data.get("a") or {}).items()
    }
    return Said(message, args)


def _arg(value: Any) -> str | int | float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError("a stored argument is not text or a number")
    return value
