"""The Bot API's `/bot<TOKEN>/<method>` route: every call recorded, any method made to answer
429 with `retry_after` or another failure, message calls held to Telegram's flood limits
(limits.py), and the chat methods (messages, captions, photos, callback answers, chat members)
with Telegram's rules on where the bot may write: only to users who have started it, only in
chats it is in, a photo only from a photo, text that parses."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from tests.emulators.telegram.limits import FloodControl
from tests.emulators.telegram.protocol import (
    BOT_ID,
    TOKEN,
    ApiError,
    Method,
    error_response,
    read_params,
    too_many_requests,
)
from tests.emulators.telegram.recording import Call, TelegramRecording
from tests.emulators.telegram.text import plain_text
from tests.emulators.telegram.world import TelegramWorld

# What a restricted member may not do, as getChatMember lists it.
RESTRICTED_RIGHTS = [
    "send_messages",
    "send_audios",
    "send_documents",
    "send_photos",
    "send_videos",
    "send_video_notes",
    "send_voice_notes",
    "send_polls",
    "send_other_messages",
    "add_web_page_previews",
    "change_info",
    "invite_users",
    "pin_messages",
    "manage_topics",
    "react_to_messages",
    "edit_tag",
]
# setMyCommands: a command is 1-32 lowercase English letters, digits and underscores; at most
# 100 per list; a language code is a two-letter ISO 639-1 code (or empty: the default list).
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
MAX_COMMANDS = 100
LANGUAGE_CODE = re.compile(r"[a-z]{2}")


class BotApi:
    """Answers the bot's method calls from the world; `methods` adds the other parts' own."""

    def __init__(
        self,
        world: TelegramWorld,
        recording: TelegramRecording,
        methods: Mapping[str, Method],
        flood: FloodControl,
        clock: Callable[[], float],
    ) -> None:
        self._world = world
        self._recording = recording
        self._flood = flood
        self._clock = clock
        self._methods: dict[str, Method] = {
            "getMe": self._get_me,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "deleteMessage": self._delete_message,
            "getChatAdministrators": self._get_chat_administrators,
            "sendChatAction": self._send_chat_action,
            "sendPhoto": self._send_photo,
            "editMessageCaption": self._edit_message_caption,
            "answerCallbackQuery": self._answer_callback_query,
            "getChatMember": self._get_chat_member,
            **methods,
        }
        self._throttled: dict[str, list[int]] = {}
        self._refusals: dict[str, list[tuple[int, str]]] = {}

    def throttle(self, method: str, retry_after: int, times: int = 1) -> None:
        """The next `times` calls of `method` answer 429 Too Many Requests."""
        self._throttled.setdefault(method, []).extend([retry_after] * times)

    def refuse(self, method: str, code: int, description: str, times: int = 1) -> None:
        """The next `times` calls of `method` fail with HTTP `code` (a 5xx: Telegram's side
        is having trouble)."""
        self._refusals.setdefault(method, []).extend([(code, description)] * times)

    async def call(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return error_response(401, "Unauthorized")
        method = request.match_info["method"]
        params = await read_params(request)
        call = Call(method, params, self._clock())
        self._recording.calls.append(call)
        response = await self._answer(call)
        call.status = response.status
        return response

    async def _answer(self, call: Call) -> web.Response:
        method, params = call.method, call.params
        if self._throttled.get(method):
            retry_after = self._throttled[method].pop(0)
            self._flood.told_to_wait(method, params, call.at, retry_after)
            return too_many_requests(retry_after)
        if self._refusals.get(method):
            code, description = self._refusals[method].pop(0)
            return error_response(code, description)
        # Over a flood limit: refused unperformed, as Telegram does (a violation).
        retry_after = self._flood.admit(method, params, call.at)
        if retry_after is not None:
            return too_many_requests(retry_after)
        handler = self._methods.get(method)
        if handler is None:
            return error_response(404, "Not Found: method not found")
        try:
            result = await handler(params)
        except ApiError as err:
            return error_response(err.code, err.description)
        call.result = dict(result) if isinstance(result, dict) else result
        return web.json_response({"ok": True, "result": result})

    # ----- where the bot may write, and what ---------------------------------------------------

    def _chat(self, chat_id: int) -> dict[str, Any]:
        """The chat the bot acts in, if Telegram lets it."""
        if chat_id in self._world.without_bot:
            raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
        if chat_id not in self._world.chats:
            if chat_id > 0:  # a user's private chat exists once they have written to the bot
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise ApiError(400, "Bad Request: chat not found")
        return dict(self._world.chats[chat_id])

    @staticmethod
    def _check_text(text: str, parse_mode: str | None, limit: int = 4096) -> None:
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        try:
            plain = plain_text(text, parse_mode)
        except ValueError as err:
            raise ApiError(400, f"Bad Request: can't parse entities: {err}") from None
        if len(plain) > limit:
            raise ApiError(400, "Bad Request: message is too long")

    # ----- the methods -------------------------------------------------------------------------

    async def _get_me(self, params: dict[str, Any]) -> Any:
        return self._world.bot_user

    async def _set_my_commands(self, params: dict[str, Any]) -> Any:
        """One command list per scope and language, checked as the Bot API checks it."""
        commands = params.get("commands")
        if not isinstance(commands, list) or not all(isinstance(c, dict) for c in commands):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > MAX_COMMANDS:
            raise ApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not COMMAND_NAME.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        menu = [{"command": c["command"], "description": c["description"]} for c in commands]
        self._world.command_menus[self._menu_key(params)] = menu
        return True

    async def _get_my_commands(self, params: dict[str, Any]) -> Any:
        """The list set for exactly this scope and language (no fallback, as Telegram)."""
        return self._world.command_menus.get(self._menu_key(params), [])

    @staticmethod
    def _menu_key(params: dict[str, Any]) -> tuple[str, str]:
        """(scope type, language code); the language is empty (every language without a list
        of its own) or a two-letter ISO 639-1 code."""
        language = str(params.get("language_code") or "")
        if language and not LANGUAGE_CODE.fullmatch(language):
            raise ApiError(400, "Bad Request: invalid language code specified")
        scope = params.get("scope") or {"type": "default"}
        return str(scope.get("type", "default")), language

    async def _send_message(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        text = str(params["text"])
        self._check_text(text, params.get("parse_mode"))
        chat = self._chat(chat_id)
        reply = params.get("reply_parameters") or {}
        if "reply_to_message_id" in params:
            reply = {"message_id": params["reply_to_message_id"]}
        extra: dict[str, Any] = {}
        if reply:
            replied = self._world.messages.get((chat_id, int(reply["message_id"])))
            if replied is None and not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
            if replied is not None:
                extra["reply_to_message"] = replied
        if params.get("reply_markup"):
            extra["reply_markup"] = params["reply_markup"]
        return self._world.new_message(
            chat, self._world.bot_user, text=text, parse_mode=params.get("parse_mode"), **extra
        )

    async def _edit_message_text(self, params: dict[str, Any]) -> Any:
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self._world.messages.get(key)
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        text = str(params["text"])
        self._check_text(text, params.get("parse_mode"))
        if message.get("text") == text and message.get("reply_markup") == params.get(
            "reply_markup"
        ):
            raise ApiError(400, "Bad Request: message is not modified")
        message.update(text=text, parse_mode=params.get("parse_mode"), edit_date=int(time.time()))
        message.pop("reply_markup", None)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _delete_message(self, params: dict[str, Any]) -> Any:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if self._world.messages.pop(key, None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    async def _send_chat_action(self, params: dict[str, Any]) -> Any:
        self._chat(int(params["chat_id"]))
        return True

    async def _send_photo(self, params: dict[str, Any]) -> Any:
        """A photo re-sent by the file_id of a photo, or uploaded."""
        chat = self._chat(int(params["chat_id"]))
        photo = params.get("photo", "")
        if isinstance(photo, bytes):
            file_id = self._world.add_file(photo)["file_id"]
        else:
            file_id = str(photo)
            if file_id not in self._world.files:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            if self._world.file_kinds[file_id] != "photo":
                raise ApiError(400, "Bad Request: type of file mismatch")
        caption = str(params.get("caption", ""))
        if caption:
            self._check_text(caption, params.get("parse_mode"), limit=1024)
        extra: dict[str, Any] = {}
        if params.get("reply_markup"):
            extra["reply_markup"] = params["reply_markup"]
        photo = [{"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 90, "height": 90}]
        return self._world.new_message(
            chat,
            self._world.bot_user,
            photo=photo,
            caption=caption,
            parse_mode=params.get("parse_mode"),
            **extra,
        )

    async def _edit_message_caption(self, params: dict[str, Any]) -> Any:
        message = self._world.messages.get((int(params["chat_id"]), int(params["message_id"])))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        caption = str(params.get("caption", ""))
        if caption:
            self._check_text(caption, params.get("parse_mode"), limit=1024)
        if message.get("caption") == caption and message.get("reply_markup") == params.get(
            "reply_markup"
        ):
            raise ApiError(400, "Bad Request: message is not modified")
        message.update(caption=caption, parse_mode=params.get("parse_mode"))
        message["edit_date"] = int(time.time())
        message.pop("reply_markup", None)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _answer_callback_query(self, params: dict[str, Any]) -> Any:
        query_id = str(params["callback_query_id"])
        if query_id in self._recording.callback_answers:
            raise ApiError(400, "Bad Request: query is too old or query ID is invalid")
        self._recording.callback_answers[query_id] = params
        return True

    # ----- chat members ------------------------------------------------------------------------

    async def _get_chat_administrators(self, params: dict[str, Any]) -> Any:
        admins = self._world.admins.get(int(params["chat_id"]), ())
        return [self._administrator(user_id) for user_id in sorted(admins)]

    async def _get_chat_member(self, params: dict[str, Any]) -> Any:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        self._chat(chat_id)
        user = {"id": user_id, "is_bot": user_id == BOT_ID, "first_name": "member"}
        if user_id in self._world.admins.get(chat_id, ()):
            return self._administrator(user_id)
        if (chat_id, user_id) in self._world.restricted:
            is_member = self._world.restricted[(chat_id, user_id)]
            return self._restricted(user, is_member=is_member)
        status = "left" if (chat_id, user_id) in self._world.left else "member"
        return {"status": status, "user": user}

    @staticmethod
    def _administrator(user_id: int) -> dict[str, Any]:
        return {
            "status": "administrator",
            "user": {"id": user_id, "is_bot": False, "first_name": "admin"},
            "can_be_edited": False,
            "is_anonymous": False,
            "can_manage_chat": True,
            "can_delete_messages": True,
            "can_manage_video_chats": True,
            "can_restrict_members": True,
            "can_promote_members": False,
            "can_change_info": True,
            "can_invite_users": True,
            "can_post_stories": False,
            "can_edit_stories": False,
            "can_delete_stories": False,
        }

    @staticmethod
    def _restricted(user: dict[str, Any], *, is_member: bool) -> dict[str, Any]:
        may = {f"can_{right}": False for right in RESTRICTED_RIGHTS}
        return {
            "status": "restricted",
            "user": user,
            "is_member": is_member,
            "until_date": 0,
            **may,
        }
