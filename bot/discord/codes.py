"""The "Claim with a code" button under a codeword drop's announcement, and the form it opens,
where the code is typed so nobody else in the channel sees it.

The button only opens the form; the form's submission is handled by `cogs.codewords` (by its
custom ID, so a form opened before a restart still claims).
"""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.discord.drop_buttons import DropButton
from bot.drops import DropInfo
from bot.drops.codes import MAX_INPUT
from bot.i18n import _, speaking

FORM_ID = re.compile(r"drop:code-form:(?P<id>\d+)")
CODE_FIELD = "code"


def takes_codes(drop: DropInfo) -> bool:
    """Is the drop claimed with a code (so its announcement offers the button)?"""
    return any(gate.kind == "codeword" for gate in drop.gates)


class CodeForm(discord.ui.Modal, title="Claim with a code"):
    def __init__(self, drop_id: int) -> None:
        # Opened for one member: in their language (the current locale).
        super().__init__(
            title=_("Claim with a code"), custom_id=f"drop:code-form:{drop_id}", timeout=None
        )
        self.code = discord.ui.TextInput[CodeForm](
            label=_("Your code"), max_length=MAX_INPUT, custom_id=CODE_FIELD
        )
        self.add_item(self.code)
        # Not kept by discord.py: its submission is handled by custom ID (cogs.codewords).
        self.stop()


class CodeButton(DropButton, template=r"drop:code:(?P<id>\d+)"):
    action = "drop:code"
    # Shown to the whole channel under the announcement: English, as the announcement.
    button_label = "Claim with a code"
    button_emoji = "🔑"
    button_style = discord.ButtonStyle.primary

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        # A button's click does not pass through the command tree, which sets the locale.
        with speaking(interaction.locale.value):
            form = CodeForm(self.drop_id)
        await interaction.response.send_modal(form)


def typed_code(data: Any) -> str:
    """The code typed into a submitted `CodeForm` ("" if none)."""
    for row in (data or {}).get("components", []):
        for field in row.get("components", []):
            if field.get("custom_id") == CODE_FIELD:
                return str(field.get("value") or "")
    return ""
