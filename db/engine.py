"""Database engine, sessions and migrations.

`DATABASE_URL` picks the backend: SQLite through aiosqlite by default (one process), PostgreSQL
through asyncpg for several processes sharing one database. Migrations are Alembic's, applied by
`python -m bot db upgrade` and at every start.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Insert, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir / 'mintbot.sqlite3'}"


def create_db_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    """An async SQLAlchemy engine; on SQLite with WAL, foreign keys on, deleted content
    zeroed, and a wait for a busy writer; on PostgreSQL `pool_size` connections kept, and twice
    as many more at peaks. Statement parameters (upload keys among them) never appear in its
    errors or logs."""
    if url.startswith("sqlite"):
        # One connection: SQLite has one writer at a time anyway, and queueing for the
        # connection in asyncio is far cheaper than writers spinning in SQLite's busy handler.
        db = create_async_engine(
            url,
            connect_args={"timeout": 30},
            pool_size=1,
            max_overflow=0,
            pool_timeout=120,
            hide_parameters=True,
        )

        @event.listens_for(db.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows are overwritten with zeros, not left readable in free space.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return db
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=2 * pool_size,
        pool_pre_ping=True,
        hide_parameters=True,
    )


def insert_unless_present(session: AsyncSession, table: Table) -> Insert:
    """INSERT that skips rows whose primary or unique key is taken (ON CONFLICT DO NOTHING):
    the database decides who was first, with no error to catch and no transaction lost."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def upsert_touch(session: AsyncSession, table: Table, touched: dict[str, Any]) -> Insert:
    """INSERT that, where the primary key is taken, updates the row's `touched` columns
    instead (ON CONFLICT DO UPDATE). Either way the row is written, hence locked until the
    transaction ends: callers use it to take turns on a key across processes."""
    bind = session.get_bind()
    keys = [column.name for column in table.primary_key.columns]
    if bind.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_update(index_elements=keys, set_=touched)
    return sqlite.insert(table).on_conflict_do_update(index_elements=keys, set_=touched)


def session_factory(db: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(db, expire_on_commit=False)


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


# Any fixed number: the PostgreSQL advisory lock that serialises migrations between processes.
_MIGRATION_LOCK = 0x6D696E74


async def upgrade(db: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision` over the database engine's own connection. Processes
    starting together take turns: the first migrates, the others then find the schema
    current."""

    def migrate(sync: Connection) -> None:
        command.upgrade(_alembic_config(sync), revision)

    if db.dialect.name == "postgresql":
        async with db.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            await conn.run_sync(migrate)
        return
    database = db.url.database
    lock_path = Path(f"{database}.migrate.lock") if database not in (None, "", ":memory:") else None
    with contextlib.ExitStack() as stack:
        if lock_path is not None:  # SQLite DDL is not transactional: lock a file instead
            lock_file = stack.enter_context(open(lock_path, "a+b"))  # noqa: ASYNC230
            await asyncio.to_thread(fcntl.flock, lock_file.fileno(), fcntl.LOCK_EX)
        async with db.connect() as conn:
            # SQLite changes a table's constraints by copying it and dropping the original;
            # with foreign keys enforced that drop would delete (and cascade to) the rows
            # referring to it. So, as SQLite prescribes for schema changes: keys off outside
            # the transaction, migrate, check every key, keys on again.
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            try:
                await conn.run_sync(migrate)
                broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise RuntimeError(f"migrating left rows with broken references: {broken}")
                await conn.commit()
            finally:
                await conn.rollback()
                await conn.exec_driver_sql("PRAGMA foreign_keys=ON")


async def current_revision(db: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with db.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
