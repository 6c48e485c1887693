"""Link previews: the Open Graph and Twitter card tags that Discord, Telegram, X and others
read to "unfurl" a page's link into a card with its title, description and picture.

Crawlers read these tags from the page's HTML without running anything, so every value is
written escaped (`html.escape` with quotes) into a double-quoted attribute: a member's name
cannot end the attribute or the tag. Values are also made fit for a card: whitespace runs
become one space, control and direction-override characters are dropped (a card shows one
line, and an unclosed override would reverse the text around it), and long text is cut short.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# Past these lengths the cards cut text themselves (X shows about 70 characters of a title
# and 200 of a description); cutting here first ends the text with an ellipsis we chose.
TITLE_CHARS = 100
DESCRIPTION_CHARS = 200
ALT_CHARS = 200
SITE_NAME_CHARS = 60

_WHITESPACE = re.compile(r"\s+")
# C0 and C1 controls, lone surrogates (no UTF-8 form), and the bidirectional embedding,
# override and isolate characters.
_UNFIT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def card_text(text: str, most: int) -> str:
    """`text` as a card shows it: one line, no control or override characters, at most `most`
    characters (cut with an ellipsis)."""
    line = _UNFIT.sub("", _WHITESPACE.sub(" ", text)).strip()
    if len(line) <= most:
        return line
    return line[: most - 1].rstrip() + "…"


@dataclass(frozen=True)
class LinkPreview:
    """What a page's link unfurls into. `url` and `image_url` are absolute (under
    PUBLIC_BASE_URL), since crawlers resolve nothing; `kind` is the Open Graph type."""

    title: str
    description: str
    url: str
    site_name: str
    kind: str = "website"
    image_url: str | None = None
    image_alt: str = ""
    published: str | None = None  # ISO 8601, when `kind` is "article"

    def tags(self) -> dict[str, str]:
        """Each tag's key (an Open Graph `property` or a Twitter `name`) and its value, as
        cards will read it."""
        title = card_text(self.title, TITLE_CHARS)
        description = card_text(self.description, DESCRIPTION_CHARS)
        alt = card_text(self.image_alt, ALT_CHARS)
        tags = {
            "og:type": self.kind,
            "og:site_name": card_text(self.site_name, SITE_NAME_CHARS),
            "og:title": title,
            "og:description": description,
            "og:url": self.url,
        }
        if self.image_url:
            tags |= {"og:image": self.image_url, "og:image:alt": alt}
        if self.published is not None:
            tags["article:published_time"] = self.published
        # A large card only where there is a picture to make it large.
        tags["twitter:card"] = "summary_large_image" if self.image_url else "summary"
        tags |= {"twitter:title": title, "twitter:description": description}
        if self.image_url:
            tags |= {"twitter:image": self.image_url, "twitter:image:alt": alt}
        return tags

    def html(self) -> str:
        """The tags as HTML for the page's head."""
        return "".join(
            # Open Graph names its tags by `property`, Twitter by `name`.
            f'<meta {"name" if key.startswith("twitter:") else "property"}="{key}" '
            f'content="{html.escape(value, quote=True)}">'
            for key, value in self.tags().items()
        )
