"""The compiled catalogues, loaded once per locale on first use.

`make setup` (and deploy/Dockerfile) compile each `.po` into a `.mo` beside it. A checkout
where that did not run, or whose `.po` changed since, still speaks every language: the `.po`
is compiled in memory with Babel, so the bot never runs untranslated by accident.
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

DOMAIN = "mintbot"
LOCALE_DIR = Path(__file__).parent / "locales"


def catalogue_paths(locale: str) -> tuple[Path, Path]:
    """The `.po` source and the `.mo` compiled from it, for `locale`."""
    folder = LOCALE_DIR / locale / "LC_MESSAGES"
    return folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"


@functools.cache
def translations(locale: str) -> gettext.NullTranslations:
    """`locale`'s catalogue; no translation at all where it has none (English: the msgids)."""
    po, mo = catalogue_paths(locale)
    if not po.exists():
        return gettext.NullTranslations()
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as compiled:
            return gettext.GNUTranslations(compiled)
    return gettext.GNUTranslations(io.BytesIO(compile_po(po)))


def compile_po(po: Path) -> bytes:
    """The `.mo` bytes of `po`, as `pybabel compile` would write them (fuzzy entries left out)."""
    # Imported here: only a checkout without compiled catalogues needs Babel at run time.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        catalogue = read_po(source, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    return compiled.getvalue()
