"""Claims on answers (bot/minting/answer_claims.py): with several processes on one
PostgreSQL each decided request is answered by the one holding its claim; a process that dies
gives its claims back with its connection. On SQLite (one process) every request is its own."""

from __future__ import annotations

import pytest

from bot.minting.answer_claims import MESSAGE_CLASS, AnswerClaims, message_key
from db.engine import create_db_engine

pytestmark = pytest.mark.db


async def test_claims_are_one_process_each_and_go_with_their_connection(database_url: str):
    engines = [create_db_engine(database_url) for _ in range(2)]
    first, second = (AnswerClaims(engine) for engine in engines)
    try:
        if not first.shared:  # SQLite: one process runs; everything is its own
            assert await first.claim([1, 2, 3]) == {1, 2, 3}
            return
        assert await first.claim([1, 2, 3]) == {1, 2, 3}
        assert await second.claim([2, 3, 4]) == {4}  # another process answers 2 and 3
        assert await first.claim([1]) == {1}  # a process's own claim is its own again
        await first.release([2])
        assert await second.claim([2, 3]) == {2}
        # The first process dies (its connection closes): its claims come back.
        await first.close()
        assert await second.claim([1, 3]) == {1, 3}
    finally:
        for claims in (first, second):
            await claims.close()
        for engine in engines:
            await engine.dispose()


async def test_a_shared_message_is_answered_in_by_the_process_holding_it(database_url: str):
    engines = [create_db_engine(database_url) for _ in range(2)]
    poster, other = (AnswerClaims(engine) for engine in engines)
    key = message_key(-10002, 5)
    assert key == message_key("-10002", "5")  # as delivery reads it from the request's row
    try:
        await poster.hold_message(-10002, 5)  # sent, or rebuilt: in the poster's memory
        if not poster.shared:
            assert await other.claim([key], MESSAGE_CLASS) == {key}
            return
        assert await other.claim([key], MESSAGE_CLASS) == set()  # left to the poster
        assert await poster.claim([key], MESSAGE_CLASS) == {key}  # its delivery answers
        await poster.release([key], MESSAGE_CLASS)  # that answer is recorded
        assert await other.claim([key], MESSAGE_CLASS) == set()  # still in the poster's memory
        await poster.let_go_message(-10002, 5)  # every line final: out of memory
        assert await other.claim([key], MESSAGE_CLASS) == {key}
        await other.release([key], MESSAGE_CLASS)
        await poster.hold_message(-10002, 6)
        await poster.close()  # the poster dies: another process rebuilds the message
        assert await other.claim([message_key(-10002, 6)], MESSAGE_CLASS) != set()
    finally:
        for claims in (poster, other):
            await claims.close()
        for engine in engines:
            await engine.dispose()
