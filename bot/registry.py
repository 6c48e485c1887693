"""The registry lines: every chat platform, chain kind, pinning backend and drop gate kind the
bot knows.

Adding one is its package or module plus one line here. Entries are "module:attribute"
strings, imported on first use, so a platform's library loads only in a bot that runs it.
"""

from __future__ import annotations

from bot.ports import CHAINS, GATES, PINNERS, PLATFORMS

PLATFORMS.register("discord", "bot.discord.platform:DISCORD")
PLATFORMS.register("telegram", "bot.telegram.platform:TELEGRAM")
PLATFORMS.register("console", "bot.console.platform:CONSOLE")

CHAINS.register("evm", "bot.chain.setup:EVM")

PINNERS.register("kubo", "bot.content.pinning.kubo:KUBO")
PINNERS.register("pinata", "bot.content.pinning.pinata:PINATA")

GATES.register("role", "bot.drops.gates.role:RoleGate")
GATES.register("chat_member", "bot.drops.gates.chat_member:ChatMemberGate")
GATES.register("linked_wallet", "bot.drops.gates.linked_wallet:LinkedWalletGate")
GATES.register("holder", "bot.drops.gates.holder:HolderGate")
GATES.register("raffle", "bot.drops.gates.raffle:RaffleGate")
GATES.register("allowlist", "bot.drops.gates.allowlist:AllowlistGate")
GATES.register("codeword", "bot.drops.gates.codeword:CodewordGate")
