"""Local emulators of the chat platforms' APIs, for the real discord.py and python-telegram-bot
stacks to run a bot against offline."""
