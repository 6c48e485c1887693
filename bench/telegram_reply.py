"""Telegram under a burst: 500 mint messages across 100 chats, sent at once.

    python bench/telegram_reply.py [--json] [--messages N] [--chats N]

The bot runs as `python -m bot run` against the local Bot API emulator (tests/emulators/telegram/)
and an anvil with automine, long polling. We time from each photo's delivery to the bot's first
reply ("minting…") and to the final edit with the links, once with Telegram's documented
overall limit (30 messages a second, TELEGRAM_MESSAGES_PER_S=30) and once with the paid
broadcast limit (1000 a second). Per-group limits (20 a minute) apply in both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import deploy, percentile  # noqa: E402
from bot.chain.devchain import Anvil  # noqa: E402
from tests.emulators.telegram import TelegramServer  # noqa: E402
from tests.support import bot_process, png  # noqa: E402

RATES = (("Telegram's limit", 30), ("paid broadcasts", 1000))


async def scenario(node: Anvil, rate: int, messages: int, chats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = await deploy(node, tmp)
        telegram = TelegramServer()
        await telegram.start()
        groups = [telegram.group(f"chat {i}") for i in range(chats)]
        users = [telegram.user(f"user{i}") for i in range(messages)]
        images = [png(200_000 + i) for i in range(messages)]
        env |= {**telegram.env(), "TELEGRAM_MESSAGES_PER_S": str(rate)}
        try:
            async with bot_process(env, Path(tmp) / "bot.log"):
                await telegram.wait_for(lambda: telegram.sent("getUpdates"), 60)
                sent_at = time.monotonic()
                photos = [
                    telegram.send_photo(groups[i % chats], users[i], [images[i]], f"/mint B {i}")
                    for i in range(messages)
                ]
                keys = {(p["chat"]["id"], p["message_id"]) for p in photos}
                with contextlib.suppress(AssertionError):  # report what arrived in time
                    await telegram.wait_for(
                        lambda: len(_final_edits(telegram, keys)) == messages, messages * 0.5
                    )
        finally:
            await telegram.stop()
    firsts = [(at - sent_at) * 1000 for at in _first_replies(telegram, keys).values()]
    finals = [at - sent_at for at in _final_edits(telegram, keys).values()]
    return {
        "messages": messages,
        "first_reply_p50_ms": statistics.median(firsts) if firsts else None,
        "first_reply_p99_ms": percentile(firsts, 0.99) if firsts else None,
        "final_p50_s": statistics.median(finals) if finals else None,
        "final_p99_s": percentile(finals, 0.99) if finals else None,
        "answered": len(finals),
        "throttled": sum(1 for c in telegram.calls if c.method == "sendMessage") - len(firsts),
    }


def _first_replies(telegram: TelegramServer, keys: set[tuple[int, int]]) -> dict[Any, float]:
    """When the bot first replied to each photo (its "minting…" message)."""
    first: dict[Any, float] = {}
    for call in telegram.sent("sendMessage"):
        replied = (int(call.params["chat_id"]), int(call.params["reply_parameters"]["message_id"]))
        if replied in keys:
            first.setdefault(replied, call.at)
    return first


def _final_edits(telegram: TelegramServer, keys: set[tuple[int, int]]) -> dict[Any, float]:
    """When each photo's reply was edited into its final answer."""
    replies = {
        (chat, m["message_id"]): (chat, m["reply_to_message"]["message_id"])
        for (chat, _), m in telegram.messages.items()
        if m.get("reply_to_message") and m.get("from", {}).get("is_bot")
    }
    final: dict[Any, float] = {}
    for call in telegram.sent("editMessageText"):
        photo = replies.get((int(call.params["chat_id"]), int(call.params["message_id"])))
        if photo in keys and "Minted" in call.params["text"]:
            final.setdefault(photo, call.at)
    return final


async def run(messages: int, chats: int) -> dict[str, Any]:
    with Anvil() as node:
        return {label: await scenario(node, rate, messages, chats) for label, rate in RATES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--chats", type=int, default=100)
    args = parser.parse_args()
    started = time.monotonic()
    results = asyncio.run(run(args.messages, args.chats))
    if args.json:
        # Top-level keys: Telegram's documented limit; every scenario under "scenarios".
        print(json.dumps({**results[RATES[0][0]], "scenarios": results}))
        return
    print(f"{'figure':<28}" + "".join(f"{label:>20}" for label, _ in RATES) + "  target")
    rows = [
        ("messages sent at once", "messages", "{:.0f}", ""),
        ("first reply p50 (ms)", "first_reply_p50_ms", "{:.0f}", ""),
        ("first reply p99 (ms)", "first_reply_p99_ms", "{:.0f}", "≤ 1000"),
        ("final edit p50 (s)", "final_p50_s", "{:.2f}", ""),
        ("final edit p99 (s)", "final_p99_s", "{:.2f}", ""),
        ("answered", "answered", "{:.0f}", f"{args.messages}"),
    ]
    for label, key, fmt, target in rows:
        cells = "".join(
            f"{fmt.format(r[key]) if r[key] is not None else '-':>20}" for r in results.values()
        )
        print(f"{label:<28}{cells}  {target}")
    print(f"(whole run {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
