"""The mintbot command line: `python -m bot COMMAND` (or `mintbot COMMAND`), one module per
command group, each opening the runtime through `bot.cli.runtime`.

Every command module is imported for `--help`, so none imports the chain stack (web3,
eth-account), the runtime (`bot.app`) or a chat library at module level: a command that needs
them imports them in its body, when it runs. That is the one place function-level imports are
used; `--help`, `status` and `audit` stay fast that way (tests/test_cli.py checks it)."""

from __future__ import annotations

import sys
import traceback

import click

from bot.cli.airdrop import airdrop
from bot.cli.allowlist import drop_allowlist
from bot.cli.audit import audit
from bot.cli.chain import contracts, deploy, doctor
from bot.cli.codewords import drop_codes, drop_word
from bot.cli.collection import collection
from bot.cli.content import export_car
from bot.cli.db import db
from bot.cli.drop import drop
from bot.cli.invite import invite
from bot.cli.mint import mint, status
from bot.cli.pin import pin
from bot.cli.raffle import raffle
from bot.cli.runtime import EXIT_CHECK_FAILED, EXIT_CONFIG
from bot.cli.serve import devchain, run, web
from bot.cli.wallet import wallet
from bot.errors import ConfigError, MintbotError
from bot.logs import redact


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """mintbot: mint members' art as NFTs from Discord and Telegram."""


for command in (
    run,
    web,
    deploy,
    devchain,
    doctor,
    db,
    mint,
    status,
    invite,
    audit,
    wallet,
    airdrop,
    export_car,
    pin,
    drop,
    collection,
    contracts,
    raffle,
):
    cli.add_command(command)
drop.add_command(drop_allowlist)
for command in (drop_codes, drop_word):
    drop.add_command(command)


def main() -> None:
    """Entry point: turn expected errors into one clear line and an exit code, no traceback;
    whatever leaves the process is redacted as log lines are (`bot.logs.redact`)."""
    try:
        cli.main(prog_name="mintbot", standalone_mode=False)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.Abort:
        sys.exit(130)
    except ConfigError as err:
        click.echo(redact(f"error: {err}"), err=True)
        sys.exit(EXIT_CONFIG)
    except MintbotError as err:
        click.echo(redact(f"error: {err}"), err=True)
        sys.exit(EXIT_CHECK_FAILED)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:  # a bug, or a library's error: its text may quote a URL or a token
        sys.stderr.write(redact(traceback.format_exc()))
        sys.exit(EXIT_CHECK_FAILED)
