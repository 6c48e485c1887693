"""Telegram: a python-telegram-bot Application built by the composition root (client.py), thin
handlers (handlers.py) and HTML rendering with every piece of user text escaped (render.py)."""
