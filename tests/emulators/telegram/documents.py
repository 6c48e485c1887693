"""`sendDocument`: the bot sends a file (an uploaded one, or one on Telegram's servers by its
file_id) into a chat it may write to, as Telegram allows: only to users who have started it,
only in chats it is in. The file is kept among the world's files, so a test reads what the
bot sent with `document_data`."""

from __future__ import annotations

from typing import Any

from tests.emulators.telegram.protocol import BOT_ID, ApiError, Method
from tests.emulators.telegram.world import TelegramWorld

CAPTION_LIMIT = 1024


class DocumentSender:
    """The Bot API's document method, on the world."""

    def __init__(self, world: TelegramWorld) -> None:
        self._world = world

    def document_methods(self) -> dict[str, Method]:
        return {"sendDocument": self._send_document}

    async def _send_document(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        if chat_id in self._world.without_bot:
            raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
        chat = self._world.chats.get(chat_id)
        if chat is None:
            if chat_id > 0:  # a user's private chat exists once they have written to the bot
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise ApiError(400, "Bad Request: chat not found")
        document = params.get("document")
        if isinstance(document, bytes):
            if not document:
                raise ApiError(400, "Bad Request: file must be non-empty")
            entry = self._world.add_file(document, name="document", kind="document")
        elif str(document) in self._world.files:
            entry = {"file_id": str(document), "file_unique_id": f"u{document}"}
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        caption = str(params.get("caption", ""))
        if len(caption) > CAPTION_LIMIT:
            raise ApiError(400, "Bad Request: message caption is too long")
        extra = {"caption": caption} if caption else {}
        return self._world.new_message(
            chat,
            self._world.bot_user,
            document={**entry, "file_name": "document"},
            parse_mode=params.get("parse_mode"),
            **extra,
        )


def document_data(world: TelegramWorld, message: dict[str, Any]) -> bytes:
    """The bytes of the document the bot sent in `message`."""
    assert message.get("from", {}).get("id") == BOT_ID, "not a message of the bot"
    return world.files[message["document"]["file_id"]][1]
