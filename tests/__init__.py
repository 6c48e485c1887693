"""The test suite."""

# Imported first, before any test module imports web3: the bot package keeps eth-keyfile's
# BLS code from loading with it (bot/deferred_imports.py), in test processes too.
import bot  # noqa: F401
