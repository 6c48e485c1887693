"""What a `getChatMember` answer means for the core: is this user a member of the chat, an
administrator of it, and may the bot post there."""

from __future__ import annotations

from telegram import (
    ChatMember,
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    Message,
)

ADMINISTRATORS = "administrators"  # the one role Telegram groups have, as the core sees it


def is_member(member: ChatMember) -> bool:
    """In the chat now. A restricted user may have left it: Telegram keeps their restrictions
    and says so with `is_member` false."""
    if isinstance(member, ChatMemberRestricted):
        return member.is_member
    return isinstance(member, ChatMemberMember | ChatMemberAdministrator | ChatMemberOwner)


def is_admin(member: ChatMember) -> bool:
    return isinstance(member, ChatMemberAdministrator | ChatMemberOwner)


def can_post(member: ChatMember) -> bool:
    """May this member (the bot) send messages in the chat? In a channel only an administrator
    with the right to post may; in a group any member, unless restricted from sending."""
    if isinstance(member, ChatMemberAdministrator):
        return member.can_post_messages is not False  # None in groups, where admins may post
    if isinstance(member, ChatMemberRestricted):
        return member.is_member and member.can_send_messages
    return isinstance(member, ChatMemberMember | ChatMemberOwner)


def sent_as_the_chat(message: Message | None) -> bool:
    """Sent by an anonymous administrator: Telegram shows (and sends) such a message as coming
    from the group itself, and only the group's administrators can do that."""
    return (
        message is not None
        and message.sender_chat is not None
        and message.sender_chat.id == message.chat.id
    )
