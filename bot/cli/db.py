"""`db upgrade`: the database schema, by Alembic migrations."""

from __future__ import annotations

import asyncio

import click

from bot.cli.runtime import settings
from bot.records import open_database
from db.engine import current_revision


@click.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to DATABASE_URL (the bot also does this at start)."""
    loaded = settings()

    async def go() -> str | None:
        engine = await open_database(loaded)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    click.echo(f"database at revision {asyncio.run(go())}")
