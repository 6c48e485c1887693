"""The file a member's message carries, and its download with a byte cap.

Whatever a message carries (a photo, a file of any name or declared type, an animation, a
video, a sticker), its bytes decide whether it is a picture: the core decodes them. The size
Telegram reports is only a first check and may be missing, so the download itself stops at
MAX_IMAGE_BYTES.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

from telegram import (
    Animation,
    Audio,
    Document,
    Message,
    PhotoSize,
    Sticker,
    Video,
    VideoNote,
    Voice,
)
from telegram.error import BadRequest, TelegramError

from bot.errors import ImageRejected
from bot.i18n import N_
from bot.telegram.transport import AiohttpRequest, FileTooBig

if TYPE_CHECKING:
    from bot.telegram.client import TelegramBot

Media = PhotoSize | Document | Animation | Video | VideoNote | Audio | Voice | Sticker

# Translated where they are shown (`_()`, or `err.text()` for the refusal).
TOO_BIG = N_(
    "That file is over the 20 MB Telegram lets bots download (a self-hosted Bot API server "
    "lifts this). Send a smaller version."
)
NO_DOWNLOAD = N_("Telegram would not hand over that file; try again.")


def media_of(message: Message | None) -> Media | None:
    """The file a message carries: a photo at its largest size, else whatever file it has."""
    if message is None:
        return None
    if message.photo:
        return max(message.photo, key=lambda size: size.width * size.height)
    files = (
        message.document,  # also set, with the same file, for an animation
        message.animation,
        message.video,
        message.sticker,
        message.video_note,
        message.audio,
        message.voice,
    )
    return next((media for media in files if media is not None), None)


async def download(bot: TelegramBot, media: Media) -> bytes:
    """The file's bytes, never more than MAX_IMAGE_BYTES of them read.

    Raises `ImageRejected` with the size refusal when the file is over the cap (as reported,
    or found while reading), and `TelegramError` when Telegram would not hand it over."""
    service, cap = bot.service, bot.runtime.settings.max_image_bytes
    if media.file_size:
        service.check_size(media.file_size)
    try:
        file = await media.get_file()
    except BadRequest as err:
        if "too big" in err.message.lower():
            raise ImageRejected(TOO_BIG) from None
        raise
    if file.file_size:
        service.check_size(file.file_size)
    if not file.file_path:
        raise TelegramError("Telegram gave no path for that file")
    try:
        if urlsplit(file.file_path).scheme in ("http", "https"):
            request = bot.app.bot.request
            if not isinstance(request, AiohttpRequest):
                raise TypeError("the Telegram bot must use AiohttpRequest to download files")
            return await request.retrieve_at_most(_encoded(file.file_path), cap)
        # A self-hosted Bot API server in --local mode hands over a path on its disk.
        return await asyncio.to_thread(_read_at_most, Path(file.file_path), cap)
    except FileTooBig as err:
        raise service.too_big(err.size) from None


def _encoded(url: str) -> str:
    """The file URL with its path quoted, as python-telegram-bot sends it."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=quote(parts.path)))


def _read_at_most(path: Path, max_bytes: int) -> bytes:
    with path.open("rb") as file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileTooBig(path.stat().st_size)
    return data
