"""Buttons under a drop's announcement (Claim, Enter, Claim with a code): dynamic items whose
custom ID is "<action>:<drop ID>", so buttons posted before a restart keep working. A kind of
button is a subclass giving its template, its action and its look."""

from __future__ import annotations

from typing import Any, ClassVar, Self

import discord

from bot.i18n import _


class DropButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"drop-button:(?P<id>\d+)"
):
    action: ClassVar[str]  # the custom ID's prefix, as the subclass's template reads it
    # Marked with `N_`; translated when the button is made, so a button shown to a whole
    # channel is made inside `speaking` its announcement's language.
    button_label: ClassVar[str]
    button_emoji: ClassVar[str]
    button_style: ClassVar[discord.ButtonStyle] = discord.ButtonStyle.primary

    def __init__(self, drop_id: int, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=_(self.button_label),
                emoji=self.button_emoji,
                style=self.button_style,
                custom_id=f"{self.action}:{drop_id}",
                disabled=disabled,
            )
        )
        self.drop_id = drop_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: Any
    ) -> Self:
        return cls(int(match["id"]))
