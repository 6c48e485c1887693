"""Link preview tags (bot/web/previews.py) as a crawler reads them: whatever a member names a
token, describes it or calls themselves, the page parses into exactly the tags we wrote, each
value reading back as the card is meant to show it, and nothing else (no script, no extra tag).
"""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.web.pages import page
from bot.web.previews import (
    ALT_CHARS,
    DESCRIPTION_CHARS,
    SITE_NAME_CHARS,
    TITLE_CHARS,
    LinkPreview,
    card_text,
)

URL = "https://nft.example.org/token/42"
IMAGE = "https://nft.example.org/ipfs/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Pieces that break naive HTML: quotes, tags, entities, line breaks, direction overrides.
HOSTILE_PIECES = (
    '"',
    "'",
    "<",
    ">",
    "&",
    "&amp;",
    "&quot;",
    '"><script>alert(1)</script>',
    "</title><script>",
    "<meta property=og:title content=x>",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\u202e",
    "\u2066",
    "\ud800",
    " ",
    "a",
    "é",
    "👩‍🎨",
)
# Any text at all, lone surrogates and controls included (a display name is whatever the
# platform sent), mixed with the pieces above.
any_text = st.one_of(
    st.text(st.characters(exclude_categories=())),
    st.lists(st.sampled_from(HOSTILE_PIECES), max_size=40).map("".join),
    st.lists(st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=5)), max_size=20).map(
        "".join
    ),
)


class Parsed(HTMLParser):
    """The elements of a document in order, its meta tags' values by key, and its title."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[str] = []
        self.meta: dict[str, str] = {}
        self.repeated: list[str] = []
        self.title = ""
        self._in_title = False
        self.feed(document)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(tag)
        self._in_title = tag == "title"
        values = dict(attrs)
        key = values.get("property") or values.get("name")
        if tag == "meta" and key is not None and key != "viewport":
            if key in self.meta:
                self.repeated.append(key)
            self.meta[key] = values.get("content") or ""

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def rendered(preview: LinkPreview) -> Parsed:
    response = page("A token", "<p>body</p>", preview=preview)
    assert response.text is not None
    return Parsed(response.text)


# The shell around the tags: what every page holds, whatever its preview says.
SHELL = ["html", "head", "meta", "meta", "title"]
AFTER = ["style", "body", "p"]


@settings(max_examples=200)
@given(title=any_text, description=any_text, alt=any_text, site=any_text)
@example(
    title='"><script>alert(1)</script>',
    description="line one\nline two\r\n\u202eevil\u202c",
    alt="x" * 5000,
    site="Fish & \"Chips\" <3 'n' <b",
)
def test_any_name_stays_inside_its_tag_and_reads_back_exactly(
    title: str, description: str, alt: str, site: str
):
    preview = LinkPreview(
        title=title,
        description=description,
        url=URL,
        site_name=site,
        kind="article",
        image_url=IMAGE,
        image_alt=alt,
        published="2026-12-01T14:00:00+00:00",
    )
    parsed = rendered(preview)
    tags = preview.tags()
    # Exactly the tags written, each once, nothing else: no script, no tag smuggled in.
    assert parsed.elements == SHELL + ["meta"] * len(tags) + AFTER
    assert parsed.repeated == []
    assert parsed.meta == tags
    assert parsed.title == "A token"
    # Each value is the text as the card shows it, nothing more and nothing less.
    assert tags["og:title"] == tags["twitter:title"] == card_text(title, TITLE_CHARS)
    assert tags["og:description"] == tags["twitter:description"]
    assert tags["og:description"] == card_text(description, DESCRIPTION_CHARS)
    assert tags["og:image:alt"] == tags["twitter:image:alt"] == card_text(alt, ALT_CHARS)
    assert tags["og:site_name"] == card_text(site, SITE_NAME_CHARS)
    assert tags["og:image"] == tags["twitter:image"] == IMAGE
    assert tags["og:url"] == URL
    assert tags["og:type"] == "article"
    assert tags["twitter:card"] == "summary_large_image"
    for shown, most in ((title, TITLE_CHARS), (description, DESCRIPTION_CHARS)):
        value = card_text(shown, most)
        assert len(value) <= most
        assert not any(c in value for c in f"\n\r\t\x00{BIDI}")
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in value)


# Words of any characters but whitespace, controls, surrogates and direction overrides.
plain_word = st.text(
    st.characters(exclude_categories=("Cc", "Cs"), exclude_characters=BIDI).filter(
        lambda c: not c.isspace()
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200)
@given(words=st.lists(plain_word, min_size=1, max_size=30))
def test_a_plain_name_is_shown_as_written(words: list[str]):
    text = " ".join(words)
    preview = LinkPreview(
        title=text, description=text, url=URL, site_name=text, image_url=IMAGE, image_alt=text
    )
    parsed = rendered(preview)
    for key, most in (
        ("og:title", TITLE_CHARS),
        ("og:description", DESCRIPTION_CHARS),
        ("og:image:alt", ALT_CHARS),
        ("og:site_name", SITE_NAME_CHARS),
    ):
        if len(text) <= most:
            assert parsed.meta[key] == text, key
        else:  # cut at the limit, and said so
            assert parsed.meta[key].endswith("…") and len(parsed.meta[key]) <= most
            assert text.startswith(parsed.meta[key][:-1])


def test_a_page_without_a_picture_asks_for_a_small_card():
    parsed = rendered(LinkPreview(title="Empty", description="", url=URL, site_name="Site"))
    assert parsed.meta["twitter:card"] == "summary"
    assert parsed.meta["og:type"] == "website"
    assert not {"og:image", "twitter:image", "og:image:alt", "article:published_time"} & set(
        parsed.meta
    )
