"""The dashboard built from a running bot's parts: what the web server routes to, and the
sign-in links the admin commands give."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.dashboard.links import dashboard_key
from bot.dashboard.pages import DashboardPages
from bot.dashboard.queries import DashboardQueries
from bot.dashboard.sessions import DashboardSessions
from bot.dashboard.wallets import HotWallets
from db.models import utcnow

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.runtime import Runtime


def dashboard_pages(runtime: Runtime) -> DashboardPages:
    """The dashboard's pages on the runtime's database, drops, communities and hot wallets."""
    settings = runtime.settings
    service = runtime.service
    key = dashboard_key(settings.dashboard_secret, settings.data_dir)
    return DashboardPages(
        sessions=DashboardSessions(runtime.sessions, key),
        queries=DashboardQueries(runtime.sessions),
        drops=runtime.drops,
        communities=service.communities,
        wallets=HotWallets(
            runtime.sessions,
            chain_id=runtime.chain.chain_id,
            addresses=[engine.wallet.address for engine in service.lanes.engines],
            balances=service.hot_wallet_balances,
            cap_wei=settings.max_spend_per_day_wei,
            timeout=settings.rpc_timeout,
        ),
        secure=settings.public_base_url.lower().startswith("https://"),
    )


def sign_in_link(
    settings: Settings,
    platform: str,
    community_id: str,
    user_id: str,
    now: datetime | None = None,
    locale: str | None = None,
) -> str:
    """A new single-use sign-in link to the community's dashboard, for one of its admins (the
    commands check that the asker is one), to pages in `locale`: by default the current one,
    the asking admin's (the command runs in their language)."""
    key = dashboard_key(settings.dashboard_secret, settings.data_dir)
    return key.link_url(
        settings.public_base_url, platform, community_id, user_id, now or utcnow(), locale
    )
