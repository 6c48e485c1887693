"""How Telegram reads a text: HTML in `parse_mode=HTML` checked as strictly as Telegram does,
and the bot-command entity of a message starting with a command."""

from __future__ import annotations

import functools
from html.parser import HTMLParser
from typing import Any

# The tags Telegram accepts in HTML parse mode.
HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre"}
HTML_TAGS |= {"tg-spoiler", "span", "blockquote", "tg-emoji"}


class _StrictHtml(HTMLParser):
    """Telegram refuses unknown tags and unbalanced ones ("can't parse entities")."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            raise ValueError(f"unsupported start tag {tag!r}")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            raise ValueError(f"unexpected end tag {tag!r}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def plain_text(text: str, parse_mode: str | None) -> str:
    """What a user would read: the text with its HTML markup applied (and checked)."""
    if (parse_mode or "").upper() != "HTML":
        return text
    return _html_applied(text)


# Tests read every message of a chat again each time they look for an answer (every 50 ms
# while they wait): each text is parsed once.
@functools.lru_cache(maxsize=1 << 16)
def _html_applied(text: str) -> str:
    parser = _StrictHtml()
    parser.feed(text)
    parser.close()
    if parser.open:
        raise ValueError(f"unclosed tag {parser.open[-1]!r}")
    return "".join(parser.text)


def command_entities(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/"):
        return []
    return [{"type": "bot_command", "offset": 0, "length": len(text.split(maxsplit=1)[0])}]
