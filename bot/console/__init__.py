"""The local console: a chat platform on the terminal, for trying every command of mintbot
without any account (`make run` with no chat platform configured)."""
