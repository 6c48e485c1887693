"""mintbot: NFTs minted from chat."""

from bot.deferred_imports import defer_keystore

defer_keystore()
