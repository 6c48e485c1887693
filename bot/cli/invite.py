"""`invite`: the URL that adds the bot to a Discord server."""

from __future__ import annotations

import click

from bot.cli.runtime import settings


@click.command()
def invite() -> None:
    """Print the URL that adds the bot to a Discord server, with the permissions it needs."""
    # Imported here: discord.py loads only for this command, as only a bot running Discord
    # needs it otherwise.
    from bot.discord_client import application_id_from_token, invite_url

    loaded = settings()
    if loaded.discord_token is None:
        raise click.ClickException("DISCORD_TOKEN is not set (see .env.example)")
    try:
        application_id = application_id_from_token(loaded.discord_token.reveal())
    except ValueError:
        raise click.ClickException("DISCORD_TOKEN does not look like a bot token") from None
    click.echo(invite_url(application_id))
