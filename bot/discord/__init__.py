"""Discord: the discord.py client around the runtime, its rendering, and the helpers the
feature cogs (top-level `cogs/`) share."""
