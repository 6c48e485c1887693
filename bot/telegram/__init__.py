"""Telegram: the python-telegram-bot Application and the platform around it (client.py), thin
handlers one module per feature (handlers/), and HTML rendering with every piece of user text
escaped (render.py). The kind the registry knows is in platform.py."""
