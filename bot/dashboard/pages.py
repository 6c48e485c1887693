"""The dashboard's pages and actions, on the bot's web server.

Every page is under `/dashboard/{platform}/{community}`: the session cookie is scoped to that
path and bound to that community, so a session opens no other community's pages. Pages are
rendered by Jinja2 with autoescaping on and run no script (the gallery's headers, with forms
allowed to post to this site only). Actions are POST forms carrying the session's CSRF token,
checked before anything changes; each answers with a redirect to the page it came from.
Every page and refusal is written in the admin's language (`bot.dashboard.rendering`).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.communities import Communities
from bot.dashboard.charts import mints_chart
from bot.dashboard.links import DashboardKey, LinkRefused, community_path, token_locale
from bot.dashboard.queries import DashboardQueries
from bot.dashboard.recent import RecentCounts
from bot.dashboard.rendering import dashboard_locale, session_cookie, session_token, templates
from bot.dashboard.sessions import SESSION_LIFETIME, Admin, DashboardSessions
from bot.dashboard.wallets import HotWallets
from bot.drops.service import Drops
from bot.errors import RequestRejected
from bot.i18n import N_, _, current, speaking
from bot.web.languages import reader_locale
from bot.web.pages import PAGE_HEADERS
from db.models import utcnow

COOKIE = "mintbot_dashboard"
BASE = "/dashboard/{platform}/{community}"
_CSP = "Content-Security-Policy"
NOT_SIGNED_IN = N_(
    "You are not signed in to this community's dashboard (or your session ended). Ask the bot "
    "for a new link: /admin dashboard on Discord, /dashboard on Telegram."
)
Handler = Callable[[web.Request], Awaitable[web.Response]]


def dashboard_headers() -> dict[str, str]:
    """The gallery's headers (no script may run), except that forms may post to this site,
    no other site may frame the pages, and nothing is cached."""
    policy = PAGE_HEADERS[_CSP]
    # The gallery forbids forms; the dashboard's actions are forms posting to itself.
    assert "form-action 'none'" in policy, policy
    policy = policy.replace("form-action 'none'", "form-action 'self'")
    return {
        **PAGE_HEADERS,
        _CSP: policy + "; frame-ancestors 'none'",
        "Cache-Control": "no-store",
    }


HEADERS = dashboard_headers()


class DashboardPages:
    def __init__(
        self,
        *,
        sessions: DashboardSessions,
        queries: DashboardQueries,
        drops: Drops,
        communities: Communities,
        wallets: HotWallets,
        secure: bool,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.queries = queries
        self.phase_counts = RecentCounts(queries.by_phase)
        self.drops = drops
        self.communities = communities
        self.wallets = wallets
        self.secure = secure  # the public URL is https: the cookie goes over https only
        self.clock = clock
        self.templates = templates()

    @property
    def key(self) -> DashboardKey:
        return self.sessions.key

    def routes(self) -> list[web.RouteDef]:
        speaks = _in_admins_language
        return [
            web.get(BASE + "/signin", self.sign_in),
            web.get(BASE, speaks(self.overview)),
            web.get(BASE + "/problems", speaks(self.problems)),
            web.get(BASE + "/drops", speaks(self.drop_list)),
            web.get(BASE + "/drops/{drop_id}/claims.csv", speaks(self.claims_csv)),
            web.get(BASE + "/wallets", speaks(self.wallet_list)),
            web.post(BASE + "/minting", speaks(self.set_minting)),
            web.post(BASE + "/drops/{drop_id}/close", speaks(self.close_drop)),
            web.post(BASE + "/answers/{request_id}/retry", speaks(self.retry_answer)),
        ]

    # ----- signing in ----------------------------------------------------------------------

    async def sign_in(self, request: web.Request) -> web.Response:
        """Exchange a sign-in link for a session cookie, once. The answer is a page that moves
        on to the dashboard: a redirect would not carry a SameSite=Strict cookie set in answer
        to a link followed from a chat app (another site). Both, and any refusal, are in the
        link's language; the session's cookie keeps it."""
        token = request.query.get("token", "")
        with speaking(token_locale(token) or reader_locale(request)) as locale:
            return await self._signed_in(request, token, locale)

    async def _signed_in(self, request: web.Request, token: str, locale: str) -> web.Response:
        platform, community = _community(request)
        now = self.clock()
        try:
            link = self.key.check(token, now)
            if (link.platform, link.community_id) != (platform, community):
                raise LinkRefused(N_("This sign-in link is for another community's dashboard."))
            session = await self.sessions.sign_in(link, now)
        except LinkRefused as err:
            return self._page("refused.html", status=403, reason=err.text())
        home = community_path(platform, community)
        response = self._page("signed_in.html", home=home)
        response.set_cookie(
            COOKIE,
            session_cookie(session, locale),
            path=home,
            max_age=int(SESSION_LIFETIME.total_seconds()),
            secure=self.secure,
            httponly=True,
            samesite="Strict",
        )
        return response

    async def _admin(self, request: web.Request) -> Admin:
        """The admin this request's session signs in to the community its path names; else
        the request ends here with 403."""
        platform, community = _community(request)
        admin = await self.sessions.admin(session_token(request.cookies.get(COOKIE)), self.clock())
        if admin is None or (admin.platform, admin.community_id) != (platform, community):
            raise self._refusal(403, _(NOT_SIGNED_IN))
        return admin

    async def _posted_by(self, request: web.Request) -> Admin:
        """The admin posting a form, whose CSRF token must be the session's own."""
        admin = await self._admin(request)
        form = await request.post()
        sent = form.get("csrf")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), admin.csrf.encode()):
            raise self._refusal(403, _("This form is stale or did not come from your dashboard."))
        return admin

    # ----- pages ---------------------------------------------------------------------------

    async def overview(self, request: web.Request) -> web.Response:
        admin = await self._admin(request)
        where = admin.platform, admin.community_id
        per_day = await self.queries.mints_per_day(*where, self.clock().date())
        config = await self.communities.config(*where)
        return self._page(
            "overview.html",
            admin=admin,
            chart=mints_chart(per_day),
            today=per_day[-1][1],
            week=sum(count for _, count in per_day),
            phases=sorted((await self.phase_counts.get(*where)).items()),
            paused=config.paused,
        )

    async def problems(self, request: web.Request) -> web.Response:
        admin = await self._admin(request)
        where = admin.platform, admin.community_id
        return self._page(
            "problems.html",
            admin=admin,
            failures=await self.queries.failures(*where),
            undeliverable=await self.queries.undeliverable(*where),
        )

    async def drop_list(self, request: web.Request) -> web.Response:
        admin = await self._admin(request)
        drops = await self.drops.list_drops(admin.platform, admin.community_id)
        return self._page("drops.html", admin=admin, drops=drops, now=self.clock())

    async def claims_csv(self, request: web.Request) -> web.Response:
        admin = await self._admin(request)
        drop_id = await self._own_drop(request, admin)
        # Not translated: the file's column names are read by programs (spreadsheets' imports,
        # scripts), which need them alike in every language.
        return web.Response(
            text=await self.drops.export_csv(drop_id),
            content_type="text/csv",
            headers={
                **HEADERS,
                "Content-Disposition": f'attachment; filename="drop-{drop_id}-claims.csv"',
            },
        )

    async def wallet_list(self, request: web.Request) -> web.Response:
        admin = await self._admin(request)
        return self._page("wallets.html", admin=admin, wallets=await self.wallets.views())

    # ----- actions -------------------------------------------------------------------------

    async def set_minting(self, request: web.Request) -> web.Response:
        admin = await self._posted_by(request)
        action = (await request.post()).get("action")
        if action not in ("pause", "resume"):
            raise self._refusal(400, _("Minting can be paused or resumed, nothing else."))
        await self.communities.configure(
            admin.platform, admin.community_id, paused=action == "pause"
        )
        raise web.HTTPSeeOther(_home(admin))

    async def close_drop(self, request: web.Request) -> web.Response:
        admin = await self._posted_by(request)
        await self.drops.close(await self._own_drop(request, admin))
        raise web.HTTPSeeOther(_home(admin) + "/drops")

    async def retry_answer(self, request: web.Request) -> web.Response:
        admin = await self._posted_by(request)
        request_id = _number(request.match_info["request_id"])
        if request_id is None or not await self.queries.retry_answer(
            admin.platform, admin.community_id, request_id
        ):
            raise self._refusal(404, _("There is no undeliverable answer with that number here."))
        raise web.HTTPSeeOther(_home(admin) + "/problems")

    # ----- helpers -------------------------------------------------------------------------

    async def _own_drop(self, request: web.Request, admin: Admin) -> int:
        """The path's drop, if it is this community's; else 404."""
        drop_id = _number(request.match_info["drop_id"])
        try:
            if drop_id is None:
                raise RequestRejected(N_("There is no such drop."))
            await self.drops.community_drop(drop_id, admin.platform, admin.community_id)
        except RequestRejected as err:
            raise self._refusal(404, err.text()) from None
        return drop_id

    def _page(self, template: str, *, status: int = 200, **values: Any) -> web.Response:
        admin = values.get("admin")
        if admin is not None:
            values.setdefault("home", _home(admin))
        html = self.templates.get_template(template).render(lang=current(), **values)
        return web.Response(text=html, content_type="text/html", status=status, headers=_headers())

    def _refusal(self, status: int, reason: str) -> web.HTTPException:
        """An error page (raised, so that it ends the handler) saying why, in plain words."""
        html = self.templates.get_template("refused.html").render(lang=current(), reason=reason)
        return _ERRORS[status](text=html, content_type="text/html", headers=_headers())


_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
}


def _in_admins_language(handler: Handler) -> Handler:
    """`handler`, its page (or refusal) written in the signed-in admin's language."""

    async def localized(request: web.Request) -> web.Response:
        with speaking(dashboard_locale(request, COOKIE)):
            return await handler(request)

    return localized


def _headers() -> dict[str, str]:
    return {**HEADERS, "Content-Language": current()}


def _community(request: web.Request) -> tuple[str, str]:
    return request.match_info["platform"], request.match_info["community"]


def _home(admin: Admin) -> str:
    return community_path(admin.platform, admin.community_id)


def _number(text: str) -> int | None:
    """A row's number from the path: digits only, within what a database integer holds."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None
