"""The deployment files under deploy/ (compose, systemd units, the image) run commands that
exist, with options the command line accepts, and set only settings .env.example documents."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from bot.cli import cli

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DOCUMENTED = set(
    re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (DEPLOY.parent / ".env.example").read_text(), re.M)
)


def accepted(args: list[str]) -> click.Command:
    """The command `python -m bot ARGS` runs, once its options parse (a bad option, a missing
    argument or a value outside a choice raises click's usage error)."""
    command: click.Command = cli
    ctx = command.make_context("mintbot", list(args), resilient_parsing=False)
    while isinstance(command, click.Group):
        name, *rest = [*ctx.protected_args, *ctx.args]
        sub = command.get_command(ctx, name)
        assert sub is not None, f"no command {name!r} in {args}"
        command, ctx = sub, sub.make_context(name, rest, parent=ctx)
    return command


def compose() -> dict[str, dict[str, object]]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]


def test_every_compose_service_of_ours_runs_a_real_command():
    ours = {name: s for name, s in compose().items() if "build" in s}
    assert {"migrate", "chat", "pipeline", "web"} <= set(ours)
    for name, service in ours.items():
        command = service["command"]
        assert isinstance(command, list), name
        accepted([str(part) for part in command])


def test_the_image_runs_the_bot_and_compose_sets_documented_settings():
    entry = re.search(r"^ENTRYPOINT (.+)$", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert entry is not None and yaml.safe_load(entry[1]) == ["python", "-m", "bot"]
    for name, service in compose().items():
        if "build" in service:
            assert set(service["environment"]) <= DOCUMENTED, name


@pytest.mark.parametrize("unit", sorted(p.name for p in (DEPLOY / "systemd").glob("*.service")))
def test_systemd_units_run_real_commands(unit: str):
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read(DEPLOY / "systemd" / unit)
    service = parser["Service"]
    role = unit.removeprefix("mintbot-").removesuffix(".service")
    for key in ("ExecStartPre", "ExecStart"):
        program, dash_m, module, *args = shlex.split(service[key])
        assert (program, dash_m, module) == ("/opt/mintbot/.venv/bin/python", "-m", "bot")
        accepted(args)
    assert shlex.split(service["ExecStart"])[3:] == ["run", "--role", role]
    assert service["Restart"] == "on-failure"


def test_a_wrong_option_is_caught():
    with pytest.raises(click.UsageError):
        accepted(["run", "--role", "nonsense"])
    with pytest.raises(click.UsageError):
        accepted(["run", "--no-such-option"])
