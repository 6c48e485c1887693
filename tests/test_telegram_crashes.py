"""Telegram across crashes: `python -m bot run` killed with SIGKILL at each point of an update's
way in (fetched, committed, answered "minting…", its request recorded, handled), by long
polling and by webhook, then restarted; and a soak with kills at random moments. Every message
is minted once and answered, with at most one extra reply per crash."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.chain.contract import Collection
from bot.inbox import DurableInbox
from db.engine import create_db_engine, session_factory
from tests.emulators.telegram import TelegramServer
from tests.forkserver import ForkedProcess
from tests.support import DEV_MINTER, balance, bot_process, png, run_cli
from tests.test_telegram import answers_of, free_port, pending, readable

pytestmark = [pytest.mark.db, pytest.mark.slow]

WEBHOOK_POINTS = ["after_inbox_commit", "after_ack", "after_submit", "after_handling"]
POLLING_POINTS = ["after_fetch", *WEBHOOK_POINTS]


class Scene:
    """The emulator, the bot's settings for one mode, and what members sent."""

    def __init__(self, telegram: TelegramServer, env: dict[str, str], log: Path) -> None:
        self.telegram = telegram
        self.env = env
        self.log = log
        self.webhook = "TELEGRAM_WEBHOOK_URL" in env
        self.groups = [telegram.group(f"Art club {i}") for i in range(4)]
        self.users = [telegram.user(f"Member {i}") for i in range(8)]
        self.photos: list[dict[str, Any]] = []

    def send_photo(self, n: int) -> dict[str, Any]:
        photo = self.telegram.send_photo(
            self.groups[n % len(self.groups)],
            self.users[n % len(self.users)],
            [png(900 + n)],
            f"/mint Piece {n}",
        )
        self.photos.append(photo)
        return photo

    def ready_mark(self) -> int:
        return len(self.telegram.sent("setWebhook" if self.webhook else "getUpdates"))

    async def started(self, proc: ForkedProcess, mark: int) -> None:
        """Wait until the bot started after `mark` takes updates (or has died)."""
        await self.telegram.wait_for(
            lambda: self.ready_mark() > mark or proc.returncode is not None, 90
        )

    def answers(self, photo: dict[str, Any]) -> list[str]:
        return answers_of(self.telegram, photo)

    def answered(self, photo: dict[str, Any]) -> bool:
        return any("Minted" in a for a in self.answers(photo))

    async def all_answered(self, timeout: float = 90) -> None:
        def every_photo_answered() -> bool:
            # Each chat's messages read once per look, not once per photo.
            posts = {group["id"]: self.telegram.in_chat(group) for group in self.groups}
            return all(
                any("Minted" in a for a in answers_of(self.telegram, p, posts[p["chat"]["id"]]))
                for p in self.photos
            )

        await self.telegram.wait_for(every_photo_answered, timeout)


async def inbox_waiting(database_url: str) -> int:
    engine = create_db_engine(database_url)
    try:
        inbox = DurableInbox(session_factory(engine), max_attempts=5, retention=timedelta(days=7))
        return (await inbox.counts())["waiting"]
    finally:
        await engine.dispose()


async def settled(scene: Scene, database_url: str) -> None:
    """Every update confirmed to Telegram and handled: nothing can be said any more."""
    telegram = scene.telegram
    await telegram.wait_for(
        lambda: all(telegram.confirmed({"update_id": u}) for u in scene_update_ids(scene))
    )
    async with asyncio.timeout(60):
        while await inbox_waiting(database_url):
            await asyncio.sleep(0.2)


def scene_update_ids(scene: Scene) -> list[int]:
    return [u["update_id"] for u in scene.telegram.delivered if "message" in u]


def scene_for(
    telegram: TelegramServer, bot_env: dict[str, str], tmp_path: Path, mode: str
) -> Scene:
    env = {
        **bot_env,
        **telegram.env(),
        "USER_MINTS_PER_MINUTE": "0",
        "COMMUNITY_MINTS_PER_MINUTE": "0",
    }
    if mode == "webhook":
        port = free_port()
        env |= {
            "HTTP_PORT": str(port),
            "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
            "TELEGRAM_WEBHOOK_SECRET": "a-shared-secret",
        }
    return Scene(telegram, env, tmp_path / "bot.log")


@pytest.mark.parametrize(
    ("mode", "point"),
    [("polling", p) for p in POLLING_POINTS] + [("webhook", p) for p in WEBHOOK_POINTS],
)
async def test_killed_at_each_point_every_message_is_minted_and_answered_once(
    mode: str,
    point: str,
    telegram: TelegramServer,
    bot_env: dict[str, str],
    database_url: str,
    collection: Collection,
    tmp_path: Path,
):
    scene = scene_for(telegram, bot_env, tmp_path, mode)
    mark = scene.ready_mark()
    async with bot_process({**scene.env, "MINTBOT_CRASH_AT": point}, scene.log) as first:
        await scene.started(first, mark)
        for n in range(3):  # at once: the crash finds the others on their way in too
            scene.send_photo(n)
        await asyncio.wait_for(first.wait(), 60)
    assert first.returncode == -signal.SIGKILL, scene.log.read_text()
    if point in ("after_ack", "after_submit", "after_handling"):  # it had said "minting…"
        assert any(pending(a) for p in scene.photos for a in scene.answers(p))
    else:  # Telegram was not told the update arrived, or the member anything
        assert not any(scene.answers(p) for p in scene.photos)

    async with bot_process(scene.env, scene.log):
        await scene.all_answered()
        await settled(scene, database_url)
    for photo in scene.photos:  # one answer each, and at most one extra reply (one crash)
        answers = scene.answers(photo)
        assert len([a for a in answers if "Minted" in a]) == 1, answers
        assert len(answers) <= 2, answers
    assert await balance(collection, DEV_MINTER.address) == 3


async def test_faults_are_retried_and_an_update_failing_for_good_is_given_up_and_listed(
    telegram: TelegramServer, bot_env: dict[str, str], tmp_path: Path
):
    scene = scene_for(telegram, {**bot_env, "INBOX_MAX_ATTEMPTS": "2"}, tmp_path, "polling")
    group, ada, ana = scene.groups[0], scene.users[0], scene.users[1]
    telegram.admins[group["id"]] = {ana["id"]}
    async with bot_process(scene.env, scene.log) as proc:
        await scene.started(proc, 0)
        telegram.refuse("getUpdates", 502, "Bad Gateway", times=3)  # not the member's problem
        telegram.refuse("sendMessage", 502, "Bad Gateway", times=1)
        recovered = telegram.send_text(group, ada, "/help")  # fails once, then is answered
        await telegram.wait_for(lambda: telegram.replies_to(recovered), 60)
        assert "/mint" in readable(telegram.replies_to(recovered)[0])

        telegram.refuse("sendMessage", 502, "Bad Gateway", times=2)
        lost = telegram.send_text(group, ada, "/help")  # fails twice: given up
        await telegram.wait_for(lambda: telegram.replies_to(lost), 60)
        (sorry,) = [readable(m) for m in telegram.replies_to(lost)]
        assert sorry == "Something went wrong on my side; try again."

        stats = telegram.send_text(group, ana, "/stats")
        await telegram.wait_for(lambda: telegram.replies_to(stats))
        assert "Updates given up after failing repeatedly: 1" in readable(
            telegram.replies_to(stats)[0]
        )
    status = await asyncio.to_thread(run_cli, "status", env=scene.env)
    assert status.returncode == 0, status.output
    assert "0 waiting to be handled, 1 given up" in status.stdout
    assert f"telegram update {lost_update_id(telegram, lost)} after 2 attempts" in status.stdout
    assert "Bad Gateway" in status.stdout


def lost_update_id(telegram: TelegramServer, message: dict[str, Any]) -> int:
    (update,) = [u for u in telegram.delivered if u.get("message") == message]
    return int(update["update_id"])


@pytest.mark.timeout(300)
async def test_soak_200_messages_with_kills_every_few_seconds(
    telegram: TelegramServer,
    bot_env: dict[str, str],
    database_url: str,
    collection: Collection,
    tmp_path: Path,
):
    """200 mint messages over 40 s, some delivered twice; the bot is killed 2-7 s after each
    start and started again, at least five times (more starts than fit in 40 s on a loaded
    machine go on after the last message). In the end: 200 tokens and 200 answers."""
    scene = scene_for(telegram, bot_env, tmp_path, "polling")
    chance = random.Random(21)
    kills = 0
    sending_done = asyncio.Event()

    async def send() -> None:
        for n in range(200):
            photo = scene.send_photo(n)
            if n % 10 == 3:  # delivered twice, the second time a little later
                update = next(u for u in telegram.delivered if u.get("message") == photo)
                asyncio.get_running_loop().call_later(0.5, telegram.deliver, update)
            await asyncio.sleep(0.2)
        sending_done.set()

    sender = asyncio.create_task(send())
    try:
        while not sending_done.is_set() or kills < 5:
            mark = scene.ready_mark()
            async with bot_process(scene.env, scene.log) as proc:
                await scene.started(proc, mark)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sending_done.wait(), chance.uniform(2, 7))
                proc.kill()
                await proc.wait()
                kills += 1
        await sender
        async with bot_process(scene.env, scene.log):
            await scene.all_answered(timeout=150)
            await settled(scene, database_url)
    finally:
        sender.cancel()
    for photo in scene.photos:
        answers = scene.answers(photo)
        assert len([a for a in answers if "Minted" in a]) == 1, answers
        assert len(answers) <= 1 + kills, answers
    assert await balance(collection, DEV_MINTER.address) == 200
