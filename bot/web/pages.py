"""The HTML shell every page shares (with its link preview tags, `bot/web/previews.py`), and
what listing pages share: the `?page=N` number and the links to the pages around it.

Every piece of user text on a page goes through `html.escape`, and pages forbid scripts
(Content-Security-Policy) as a second guard. A page is written in the current locale (the
reader's: `bot/web/languages.py`), which its `<html lang>` names.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

from aiohttp import web

from bot.i18n import _, current
from bot.web.previews import LinkPreview

# Pages run no script at all: even text that escaped escaping could not act.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; "
        "form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}img{max-width:100%}dt{font-weight:600}code{word-break:break-all}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:1rem;"
    "list-style:none;padding:0}.card{border:1px solid #ddd;border-radius:.5rem;padding:.6rem;"
    "overflow-wrap:anywhere}.card img,.token img{width:100%;aspect-ratio:1;object-fit:contain;"
    "image-rendering:pixelated;background:#f4f4f4;border-radius:.3rem}.card h2{font-size:1.05rem;"
    "margin:.5rem 0 .2rem}.card p{margin:.2rem 0;font-size:.9rem}.token img{max-width:28rem}"
    ".description{white-space:pre-wrap}nav a{margin-right:1rem}"
)


def page(
    title: str, body: str, *, status: int = 200, preview: LinkPreview | None = None
) -> web.Response:
    document = (
        f"<!doctype html><html lang={current()}><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width'><title>{html.escape(title)}</title>"
        + (preview.html() if preview is not None else "")
        + f"<style>{_STYLE}</style></head><body>"
        + body
        + "</body></html>"
    )
    return web.Response(
        text=document, content_type="text/html", status=status, headers=PAGE_HEADERS
    )


def definitions(rows: list[tuple[str, str]]) -> str:
    """A list of labels (text, escaped here) and their values (HTML), as `<dl>`."""
    items = "".join(f"<dt>{html.escape(label)}</dt><dd>{value}</dd>" for label, value in rows)
    return f"<dl>{items}</dl>"


def short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address


def page_number(request: web.Request) -> int:
    """The `?page=N` asked for (1 when absent); 400 unless a whole number from 1."""
    try:
        number = int(request.query.get("page", "1"))
    except ValueError:
        number = 0
    if number < 1:
        raise web.HTTPBadRequest(text=_("page must be a whole number from 1"))
    return number


def page_links(
    path: str, number: int, *, has_more: bool, query: dict[str, str] | None = None
) -> list[str]:
    """Links to the newer (previous) and older (next) pages of a listing, as HTML."""

    def link(to: int, label: str, rel: str) -> str:
        href = f"{path}?{urlencode({'page': str(to), **(query or {})})}"
        return f"<a rel={rel} href='{html.escape(href)}'>{label}</a>"

    links = []
    if number > 1:
        links.append(link(number - 1, html.escape(_("← newer")), "prev"))
    if has_more:
        links.append(link(number + 1, html.escape(_("older →")), "next"))
    return links
