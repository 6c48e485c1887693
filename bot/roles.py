"""Process roles: what one `python -m bot run --role ROLE` process runs of the bot.

- `all` (the default): everything in one process, as the embedded SQLite set-up needs.
- `chat`: the chat platforms (they record requests and ask the core) and the answers: a
  request's answer and its announcement go out through the running platform of its origin, so
  the process that runs that platform gives them. It runs no preparing, batching, signing or
  watching.
- `pipeline`: the mint pipeline's stages (prepare, publish, batch, sign), the transaction
  watcher, withdrawals and community collections; no chat platform, so no answers.
- `web`: the gallery, token pages and IPFS gateway (`bot.web.role`), with no key.

Every role but `all` is one of several processes sharing a database, which only PostgreSQL
allows (`bot.process_locks` keeps SQLite to one process), and a chain (RPC_URL), which local
mode starts for its one process.
"""

from __future__ import annotations

from typing import Literal, get_args

from bot.errors import ConfigError

Role = Literal["all", "chat", "pipeline", "web"]
ROLES: tuple[Role, ...] = get_args(Role)


def check_role(role: Role, *, database_url: str, local_mode: bool) -> None:
    """Refuse a role that cannot share what it needs: SQLite is one process's database, and
    local mode starts a chain for one process."""
    if role == "all":
        return
    if database_url.startswith("sqlite"):
        raise ConfigError(
            "--role",
            f"{role} runs beside other processes, which SQLite does not allow; use --role all "
            "(the default) with SQLite, or set DATABASE_URL to PostgreSQL",
        )
    if local_mode:
        raise ConfigError(
            "--role",
            f"{role} runs beside other processes, which need one chain: set RPC_URL (for a "
            "local chain, start it with `python -m bot devchain`)",
        )
