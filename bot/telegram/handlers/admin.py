"""Telegram /pause, /resume, /balance, /stats, /config, /collection, /collection_create and
/webhook and /dashboard, for a group's administrators, answered in the asker's language
(`_()`: the update's `language_code`, set for its handling)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from telegram import Bot, ChatMember, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CommandHandler, ContextTypes, MessageHandler, filters

from bot.communities import AnnounceTarget, CommunityConfig, check_announce_target
from bot.community_collections.metadata import CollectionText
from bot.community_collections.records import describe as describe_collection
from bot.community_stats import PAUSED, RESUMED, balance_line, stats_lines
from bot.dashboard.wiring import sign_in_link
from bot.errors import RequestRejected
from bot.i18n import N_, NATIVE_NAMES, _, public_language
from bot.telegram.files import NO_DOWNLOAD, download, media_of
from bot.telegram.members import ADMINISTRATORS, can_post, is_admin
from bot.telegram.render import ANSWERED_IN_PRIVATE, NO_PREVIEW, esc, link, reply
from bot.webhooks.endpoints import added_lines, queued_line, removed_line

if TYPE_CHECKING:
    from bot.telegram.client import TelegramBot

CONFIG_USAGE = N_(
    "Usage: <code>/config minters admins|everyone</code>, "
    "<code>/config announce here|off|CHAT_ID</code> (announce every mint from this group "
    "in a chat), <code>/config language en|es|de|default</code> (the language of "
    "announcements, drops and draws the whole group reads), or several at once"
)
COLLECTION_USAGE = N_(
    "Usage: <code>/collection_create Name | SYMBOL | royalty %</code>, for example "
    "<code>/collection_create Harbour Art | HARB | 5</code>, as a message or as the caption of "
    "the collection's picture. You own it and receive its royalties at your verified wallet "
    "(/wallet link)."
)
CREATE_CAPTION = re.compile(r"^/collection_create(?:@\w+)?(?:\s|$)", re.IGNORECASE)
ROYALTY_PERCENT = re.compile(r"(\d{1,3}(?:\.\d{1,2})?)\s*%?")
ADMIN_COMMANDS = (
    "pause",
    "resume",
    "balance",
    "stats",
    "config",
    "collection",
    "collection_create",
    "webhook",
    "dashboard",
)
WEBHOOK_USAGE = N_(
    "Usage: <code>/webhook add URL</code> (the secret comes to you in private), "
    "<code>/webhook remove NUMBER</code>, <code>/webhook test</code>, <code>/webhook list</code>"
)
Context = ContextTypes.DEFAULT_TYPE


class AdminHandlers:
    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot
        self.service = bot.service
        self.communities = bot.service.communities

    def register(self, new: filters.BaseFilter) -> None:
        for name in ADMIN_COMMANDS:
            self.bot.app.add_handler(CommandHandler(name, self.admin, filters=new))
        # The collection's picture comes as a photo or file captioned with the command.
        self.bot.app.add_handler(
            MessageHandler(new & filters.CaptionRegex(CREATE_CAPTION), self.admin)
        )

    async def admin(self, update: Update, context: Context) -> None:
        """/pause, /resume, /balance, /stats, /config: for the chat's administrators."""
        message, chat = update.effective_message, update.effective_chat
        said = message.text or message.caption if message is not None else None
        assert message is not None and chat is not None and said is not None
        command = said.split()[0].lstrip("/").split("@")[0].lower()
        if chat.type == ChatType.PRIVATE:
            await reply(
                message, _("Admin commands work in groups, for the group's administrators.")
            )
            return
        if not (await self.bot.asker(update, context)).is_admin:
            await reply(
                message,
                _("Only this chat's administrators can use {command}.").format(
                    command=f"/{command}"
                ),
            )
            return
        community = str(chat.id)
        if command in ("pause", "resume"):
            await self.communities.configure("telegram", community, paused=command == "pause")
            text = _(PAUSED) if command == "pause" else _(RESUMED)
        elif command == "balance":
            address, balance, spent = await self.service.hot_wallet()
            text = balance_line(f"<code>{address}</code>", balance, spent)
        elif command == "stats":
            text = await self._stats(chat.id, community)
        elif command == "collection":
            view = await self.bot.runtime.collections.view("telegram", community)
            text = esc(
                describe_collection(view)
                if view is not None
                else _(
                    "This group mints into the shared collection: {create} makes one of its own."
                ).format(create="/collection_create")
            )
        elif command == "collection_create":
            text = await self._create_collection(said, community, update)
        elif command == "webhook":
            text = await self._webhook(update, context, community)
        elif command == "dashboard":
            text = await self._dashboard(update, context, community)
        else:
            text = await self._config(update, context, community)
        await reply(message, text)

    async def _stats(self, chat_id: int, community: str) -> str:
        """/stats: requests by phase, updates given up, holder roles."""
        counts = await self.service.community_stats("telegram", community)
        lines = stats_lines(counts)
        if given_up := await self.bot.given_up_in(chat_id):
            lines.append(
                _("Updates given up after failing repeatedly: {count}").format(count=given_up)
            )
        holders = await self.bot.runtime.holders.rules.stats("telegram", community)
        return "\n".join(map(esc, [*lines, *holders.lines()]))

    async def _dashboard(self, update: Update, context: Context, community: str) -> str:
        """/dashboard: a sign-in link to the group's dashboard, sent in the admin's private chat
        (never in the group, where anyone could use it first); the group hears where it went."""
        user = update.effective_user
        assert user is not None
        url = sign_in_link(self.bot.runtime.settings, "telegram", community, str(user.id))
        try:
            await context.bot.send_message(
                user.id,
                _(
                    "Your dashboard for this group: {link}. The link signs you in once, for 30 "
                    "minutes: keep it to yourself."
                ).format(link=link(_("open it"), url)),
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
            )
        except (Forbidden, BadRequest):
            start = f"https://t.me/{context.bot.username}"
            return _(
                "🔒 I send dashboard links in private. {open_chat}, then ask /dashboard here again."
            ).format(open_chat=link(_("Open a chat with me"), start))
        return _(ANSWERED_IN_PRIVATE)

    async def _create_collection(self, text: str, community: str, update: Update) -> str:
        """/collection_create Name | SYMBOL | royalty %"""
        rest = text.partition(" ")[2]
        parts = [p.strip() for p in rest.split("|")]
        if len(parts) not in (2, 3) or not all(parts[:2]):
            return _(COLLECTION_USAGE)
        royalty = ROYALTY_PERCENT.fullmatch(parts[2] if len(parts) == 3 else "0")
        if royalty is None:
            return _(COLLECTION_USAGE)
        bps = round(float(royalty[1]) * 100)
        user, message = update.effective_user, update.effective_message
        assert user is not None and message is not None
        media = media_of(message)
        try:
            picture = await download(self.bot, media) if media is not None else None
            view = await self.bot.runtime.collections.create(
                platform="telegram",
                community_id=community,
                created_by=str(user.id),
                name=parts[0],
                symbol=parts[1],
                royalty_bps=bps,
                text=CollectionText(image=picture),
            )
        except RequestRejected as err:
            return esc(err.text())
        except TelegramError:
            return _(NO_DOWNLOAD)
        return esc(describe_collection(view))

    async def _webhook(self, update: Update, context: Context, community: str) -> str:
        """/webhook add URL | remove NUMBER | test | list"""
        args, user = context.args or [], update.effective_user
        assert user is not None
        webhooks = self.bot.runtime.webhooks
        action = args[0].lower() if args else "list"
        try:
            if action == "add" and len(args) == 2:
                return await self._add_webhook(community, args[1], user.id)
            if action == "remove" and len(args) == 2 and args[1].lstrip("#").isdecimal():
                gone = await webhooks.remove("telegram", community, int(args[1].lstrip("#")))
                return esc(removed_line(gone))
            if action == "test" and len(args) == 1:
                queued = await webhooks.test("telegram", community, str(user.id))
                return esc(queued_line(queued))
            if action == "list" and len(args) <= 1:
                listed = await webhooks.listed("telegram", community)
                return esc("\n".join(v.line() for v in listed) or _("No webhooks yet."))
        except RequestRejected as err:
            return esc(err.text())
        return _(WEBHOOK_USAGE)

    async def _add_webhook(self, community: str, url: str, user_id: int) -> str:
        """The secret goes to the admin in private, so the group never sees it; an admin the
        bot cannot write to privately gets no webhook (a secret nobody holds is of no use)."""
        bot = self.bot.app.bot
        try:
            await bot.send_message(user_id, _("Adding the webhook…"))
        except (Forbidden, BadRequest):
            return _(
                "I send the webhook's secret in private: start a chat with {bot} first, then "
                "ask again."
            ).format(bot=f"@{esc(bot.username)}")
        added = await self.bot.runtime.webhooks.add("telegram", community, url, str(user_id))
        named, secret, usage = added_lines(added)
        await bot.send_message(
            user_id,
            f"{esc(named)}\n<code>{esc(secret)}</code>\n{esc(usage)}",
            parse_mode=ParseMode.HTML,
        )
        return esc(
            _("Webhook #{number} added; I sent you its secret in private.").format(
                number=added.endpoint.id
            )
        )

    async def _config(self, update: Update, context: Context, community: str) -> str:
        """/config [minters admins|everyone] [announce here|off|CHAT_ID]
        [language en|es|de|default]"""
        args = context.args or []
        changes: dict[str, Any] = {}
        pairs = dict(zip(args[::2], args[1::2], strict=False))
        if len(args) % 2 or set(pairs) - {"minters", "announce", "language"}:
            return _(CONFIG_USAGE)
        if "language" in pairs:
            language = pairs["language"].lower()
            if language not in (*NATIVE_NAMES, "default"):
                return _(CONFIG_USAGE)
            changes["locale"] = None if language == "default" else language
        if "minters" in pairs:
            if pairs["minters"] not in ("admins", "everyone"):
                return _(CONFIG_USAGE)
            changes["minter_role_id"] = ADMINISTRATORS if pairs["minters"] == "admins" else None
        if "announce" in pairs:
            target = pairs["announce"]
            if target not in ("here", "off") and not re.fullmatch(r"-?\d{1,20}", target):
                return _(CONFIG_USAGE)
            chat_id = None if target == "off" else community if target == "here" else target
            if chat_id is not None:
                chat_id = str(int(chat_id))
                try:
                    check_announce_target(
                        community, await self._announce_target(update, context, community, chat_id)
                    )
                except RequestRejected as err:
                    return esc(err.text())
            changes["announce_channel_id"] = chat_id
        config = await self.communities.configure("telegram", community, **changes)
        return describe(config)

    async def _announce_target(
        self, update: Update, context: Context, community: str, chat_id: str
    ) -> AnnounceTarget:
        """What Telegram says of announcing in `chat_id`: does the asker administer that chat
        (an anonymous admin cannot be told apart there, so does not), may the bot post."""
        if chat_id == community:
            return AnnounceTarget(chat_id, community, asker_is_admin=True, bot_can_post=True)
        user = update.effective_user
        assert user is not None
        bot = context.bot
        asker = await _chat_member(bot, chat_id, user.id)
        me = await _chat_member(bot, chat_id, bot.id)
        return AnnounceTarget(
            chat_id,
            chat_id,  # a Telegram chat is a community of its own
            asker_is_admin=asker is not None and is_admin(asker),
            bot_can_post=me is not None and can_post(me),
        )


def describe(config: CommunityConfig) -> str:
    who = _("chat administrators") if config.minter_role_id else _("every member")
    announce = (
        _("chat {id}").format(id=f"<code>{esc(config.announce_channel_id)}</code>")
        if config.announce_channel_id
        else _("off")
    )
    minting = "<b>{}</b>".format(esc(_("paused"))) if config.paused else _("on")
    return "\n".join(
        [
            _("Minting: {state}").format(state=minting),
            _("Who may mint: {who}").format(who=who),
            _("Who may mint others' images: {who}").format(who=_("chat administrators")),
            _("Announcing every mint: {where}").format(where=announce),
            _("Language of public posts: {language}").format(
                language=esc(public_language(config.locale))
            ),
        ]
    )


async def _chat_member(bot: Bot, chat_id: str, user_id: int) -> ChatMember | None:
    """The user's membership of the chat, or None if Telegram will not say (an unknown chat,
    one the bot is not in)."""
    try:
        return await bot.get_chat_member(int(chat_id), user_id)
    except (BadRequest, Forbidden):
        return None
