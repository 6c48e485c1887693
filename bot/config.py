"""Settings from the environment and `.env`, validated once at start.

Every setting is documented in `.env.example`. A wrong value raises `ConfigError` naming the
setting and what is wrong; the CLI prints that one line and exits with code 2. Secret values
(the hot wallet key, keystore passwords) live in `Secret`, which never shows its value in
`repr`, `str` or f-strings. `NAME_FILE` may point at a file holding any secret `NAME`, as
Docker and Kubernetes secrets do.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bot.discord.shards import ShardPlan, parse_shards
from bot.env_values import (
    Env,
    Secret,
    env_address,
    env_chat_id,
    env_choice,
    env_flag,
    env_gwei,
    env_int,
    env_names,
    env_number,
    env_rpc_urls,
    env_url,
    exposed_file,
    read_env,
)
from bot.errors import ConfigError
from bot.hot_wallet_keys import LOCAL_CHAIN_ID, hot_wallet_keys
from bot.redact import redacted_repr, url_secrets
from bot.webhooks.settings import WebhookSettings, load_webhook_settings

# Where a fault-injection test may have the process kill itself (MINTBOT_CRASH_AT).
CRASH_POINTS = (
    "after_sign",
    "after_send",
    "after_confirm",
    # a chat update's way in: fetched, committed to the inbox, a "minting…" reply sent, its
    # request recorded, its handlers done (not yet marked processed)
    "after_fetch",
    "after_inbox_commit",
    "after_ack",
    "after_submit",
    "after_handling",
)

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """Validated settings. Built by `load_settings`; see `.env.example` for each one."""

    data_dir: Path
    log_level: str
    rpc_url: str | None
    chain_id: int | None
    hot_wallet_key: Secret = field(repr=False)  # the custody key: the first of the pool
    more_hot_wallet_keys: tuple[Secret, ...] = field(repr=False)
    hot_wallet_key_is_dev: bool
    lane_takeover_s: float
    contract_address: str | None
    factory_address: str | None
    admin_address: str | None
    royalty_receiver: str | None
    royalty_bps: int
    collection_name: str
    collection_symbol: str
    contract_uri: str
    max_fee_per_gas_wei: int
    priority_fee_wei: int
    confirmations: int
    explorer_url: str | None
    public_base_url: str
    anvil_port: int
    anvil_block_time: float
    database_url: str
    database_pool_size: int
    max_image_bytes: int
    max_image_pixels: int
    max_image_frames: int
    image_cpu_seconds: float
    batch_max_size: int
    content_workers: int
    user_mints_per_minute: int
    community_mints_per_minute: int
    batch_max_wait: float
    fee_bump_after: float
    max_spend_per_day_wei: int | None
    custody_address: str | None
    http_host: str
    http_port: int
    rpc_timeout: float = 10.0
    poll_interval: float = 2.0
    answer_max_attempts: int = 100
    answer_give_up_after: timedelta = timedelta(hours=24)
    crash_at: str | None = None
    inbox_retention_days: int = 7
    inbox_max_attempts: int = 5
    inbox_lease_s: float = 30.0
    discord_token: Secret | None = field(default=None, repr=False)
    discord_dev_guild_id: int | None = None
    discord_api_base_url: str | None = None
    discord_gateway_url: str | None = None
    discord_shards: ShardPlan | None = None  # DISCORD_SHARDS: None runs one unsharded connection
    telegram_token: Secret | None = field(default=None, repr=False)
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: Secret | None = field(default=None, repr=False)
    telegram_messages_per_s: float = 30.0
    telegram_group_messages_per_minute: float = 20.0
    telegram_chat_messages_per_s: float = 1.0
    allow_unverified_wallets: bool = False
    ens_rpc_url: str | None = None  # an Ethereum mainnet RPC: /wallet link accepts ENS names
    low_balance_wei: int = 10**16
    balance_check_s: float = 60.0
    alert_discord_channel_id: int | None = None
    alert_telegram_chat_id: int | None = None
    chain_kind: str = "evm"  # CHAIN_KIND: a registered chain kind
    l1_fee: str = "auto"  # L1_FEE: count an OP-stack chain's L1 data fee (auto, on, off)
    web_server: str = "process"  # WEB_SERVER: "process" (a child process) or "inline"
    warnings: tuple[str, ...] = ()  # said at start, after logging is set up
    # PINNING: the backends content is published to before it is minted (none: local only)
    pinning: tuple[str, ...] = ()
    kubo_api_url: str | None = None
    # KUBO_API_AUTH: the whole Authorization header value a hosted kubo API asks for
    kubo_api_auth: Secret | None = field(default=None, repr=False)
    ipfs_gateway_url: str | None = None  # IPFS_GATEWAY_URL: where pinned content is read back
    # PINATA_JWT: the bearer token of a Pinata API key (files read and write)
    pinata_jwt: Secret | None = field(default=None, repr=False)
    pinata_api_url: str = "https://api.pinata.cloud"
    pinata_upload_url: str = "https://uploads.pinata.cloud"
    # PINATA_GATEWAY_URL: the gateway pinned content is read back through without IPFS_GATEWAY_URL
    pinata_gateway_url: str = "https://gateway.pinata.cloud"
    # RPC_URLS (or RPC_URL): every endpoint, in the order requests try them; rpc_url is the first
    rpc_urls: tuple[str, ...] = ()
    # HOLDINGS_CACHE_S: how long a balance read for a holder gate or role is reused
    holdings_cache_s: float = 5.0
    # HOLDER_RECHECK_S: how often holder roles are re-checked in full, besides following transfers
    holder_recheck_s: float = 600.0
    # CODEWORD_SECRET: the key codeword drops' codes are stored under (default: a file in DATA_DIR)
    codeword_secret: Secret | None = field(default=None, repr=False)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)  # WEBHOOK_*
    # DASHBOARD_SECRET: the key dashboard sign-in links are signed with (default: DATA_DIR file)
    dashboard_secret: Secret | None = field(default=None, repr=False)

    __repr__ = redacted_repr  # secrets have repr=False; URLs show without their credentials

    @property
    def local_mode(self) -> bool:
        """No RPC_URL: the bot runs its own anvil and may use the published dev key."""
        return self.rpc_url is None

    @property
    def effective_rpc_url(self) -> str:
        return self.rpc_url or f"http://127.0.0.1:{self.anvil_port}"

    @property
    def effective_rpc_urls(self) -> tuple[str, ...]:
        return self.rpc_urls or (self.effective_rpc_url,)

    @property
    def deployments_dir(self) -> Path:
        return self.data_dir / "deployments"

    @property
    def ipfs_dir(self) -> Path:
        return self.data_dir / "ipfs"

    def secrets(self) -> list[Secret]:
        """Every secret these settings hold, for log redaction."""
        optional = (
            self.discord_token,
            self.telegram_token,
            self.telegram_webhook_secret,
            self.kubo_api_auth,
            self.pinata_jwt,
            self.codeword_secret,
            self.webhooks.secret,
            self.webhooks.store_secret,
            self.dashboard_secret,
        )
        urls = (*self.rpc_urls, self.database_url, self.kubo_api_url, self.ipfs_gateway_url)
        urls += (self.pinata_gateway_url,)  # a dedicated gateway's ?pinataGatewayToken=
        urls += (self.ens_rpc_url,)  # a hosted node's key in its path or query
        urls += self.webhooks.urls
        in_urls = [Secret(part) for url in urls if url for part in url_secrets(url)]
        keys = [self.hot_wallet_key, *self.more_hot_wallet_keys]
        return [*keys, *(s for s in optional if s is not None), *in_urls]


WEB_SERVER_MODES = ("process", "inline")
L1_FEE_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class WebSettings:
    """What the web role (`python -m bot web`) needs: the database, the content directory, the
    chain to ask who holds a token, and where to listen. No key and no chat token: the public
    web server never holds a secret it does not use."""

    data_dir: Path
    log_level: str
    database_url: str
    database_pool_size: int  # PostgreSQL connections a process keeps (twice more at peaks)
    rpc_url: str  # the local chain's when RPC_URL is unset
    chain_id: int | None
    contract_address: str | None
    explorer_url: str | None
    public_base_url: str
    collection_name: str  # the site's name in link previews
    http_host: str
    http_port: int
    rpc_timeout: float
    rpc_urls: tuple[str, ...] = ()  # every endpoint (RPC_URLS); rpc_url is the first
    # DASHBOARD_URL: a chat process's own routes, which serve the admin dashboard; the web role
    # alone passes the dashboard's pages on to it (None: it serves no dashboard).
    dashboard_url: str | None = None

    __repr__ = redacted_repr

    def secrets(self) -> list[Secret]:
        """The credentials in its URLs, for log redaction."""
        urls = (*self.rpc_urls, self.database_url)
        return [Secret(part) for url in urls for part in url_secrets(url)]

    @property
    def deployments_dir(self) -> Path:
        return self.data_dir / "deployments"

    @property
    def ipfs_dir(self) -> Path:
        return self.data_dir / "ipfs"


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = None
) -> Settings:
    """Read and validate every setting; raise `ConfigError` on the first wrong one.

    `environ` defaults to the process environment and `env_file` to `ENV_FILE` or `./.env`.
    Values in the environment win over the file.
    """
    env, env_file = read_env(environ, env_file)
    warnings = tuple(exposed_file(env_file))
    web = _web_settings(env)
    local_mode = not web.rpc_urls
    chain_id = web.chain_id or LOCAL_CHAIN_ID
    if local_mode and chain_id != LOCAL_CHAIN_ID:
        raise ConfigError(
            "CHAIN_ID", f"the local chain is {LOCAL_CHAIN_ID}; set RPC_URL for another"
        )
    keys, key_is_dev = hot_wallet_keys(env, local_mode, chain_id)

    max_fee = env_gwei(env, "MAX_FEE_PER_GAS_GWEI", 100)
    priority_fee = env_gwei(env, "PRIORITY_FEE_GWEI", 0.01)
    if priority_fee > max_fee:
        raise ConfigError("PRIORITY_FEE_GWEI", "must not exceed MAX_FEE_PER_GAS_GWEI")

    spend_cap = env_number(env, "MAX_SPEND_PER_DAY_ETH", 0, low=0)
    crash_at = env.get("MINTBOT_CRASH_AT")
    if crash_at is not None and crash_at not in CRASH_POINTS:
        raise ConfigError("MINTBOT_CRASH_AT", f"must be one of {', '.join(CRASH_POINTS)}")

    discord_api = env.get("DISCORD_API_BASE_URL")
    discord_gateway = env.get("DISCORD_GATEWAY_URL")
    for name, url, schemes in (
        ("DISCORD_API_BASE_URL", discord_api, ("http://", "https://")),
        ("DISCORD_GATEWAY_URL", discord_gateway, ("ws://", "wss://")),
        ("TELEGRAM_API_BASE_URL", env.get("TELEGRAM_API_BASE_URL"), ("http://", "https://")),
        ("TELEGRAM_FILE_BASE_URL", env.get("TELEGRAM_FILE_BASE_URL"), ("http://", "https://")),
    ):
        if url is not None and not url.startswith(schemes):
            raise ConfigError(name, f"must start with {' or '.join(schemes)}")

    # Whether each backend is registered is checked where they are opened (`open_backends`).
    pinning = env_names(env, "PINNING", "backend")
    kubo_api_url = env_url(env, "KUBO_API_URL", ("http", "https"))
    if "kubo" in pinning and kubo_api_url is None:
        raise ConfigError("KUBO_API_URL", "required when PINNING names kubo")
    pinata_jwt = env.secret("PINATA_JWT")
    if "pinata" in pinning and pinata_jwt is None:
        raise ConfigError("PINATA_JWT", "required when PINNING names pinata")

    if env.get("TELEGRAM_WEBHOOK_URL") and env.secret("TELEGRAM_WEBHOOK_SECRET") is None:
        raise ConfigError("TELEGRAM_WEBHOOK_SECRET", "required with TELEGRAM_WEBHOOK_URL")

    return Settings(
        discord_token=env.secret("DISCORD_TOKEN"),
        discord_dev_guild_id=env_int(env, "DISCORD_DEV_GUILD_ID", 0, low=1) or None,
        discord_api_base_url=discord_api.rstrip("/") if discord_api else None,
        discord_gateway_url=discord_gateway,
        discord_shards=parse_shards("DISCORD_SHARDS", env.get("DISCORD_SHARDS")),
        telegram_token=env.secret("TELEGRAM_TOKEN"),
        telegram_api_base_url=env.get("TELEGRAM_API_BASE_URL") or Settings.telegram_api_base_url,
        telegram_file_base_url=(
            env.get("TELEGRAM_FILE_BASE_URL") or Settings.telegram_file_base_url
        ),
        telegram_webhook_url=env_url(env, "TELEGRAM_WEBHOOK_URL", ("http", "https")),
        telegram_webhook_secret=env.secret("TELEGRAM_WEBHOOK_SECRET"),
        codeword_secret=env.secret("CODEWORD_SECRET"),
        webhooks=load_webhook_settings(env),
        dashboard_secret=env.secret("DASHBOARD_SECRET"),
        telegram_messages_per_s=env_number(env, "TELEGRAM_MESSAGES_PER_S", 30, low=0),
        telegram_group_messages_per_minute=env_number(
            env, "TELEGRAM_GROUP_MESSAGES_PER_MINUTE", 20, low=0
        ),
        telegram_chat_messages_per_s=env_number(env, "TELEGRAM_CHAT_MESSAGES_PER_S", 1, low=0),
        allow_unverified_wallets=env_flag(env, "ALLOW_UNVERIFIED_WALLETS", False),
        ens_rpc_url=env_url(env, "ENS_RPC_URL", ("http", "https")),
        low_balance_wei=int(env_number(env, "LOW_BALANCE_ETH", 0.01, low=0) * 10**18),
        balance_check_s=env_number(env, "BALANCE_CHECK_S", 60, low=0.1),
        alert_discord_channel_id=env_int(env, "ALERT_DISCORD_CHANNEL_ID", 0, low=1) or None,
        alert_telegram_chat_id=env_chat_id(env, "ALERT_TELEGRAM_CHAT_ID"),
        warnings=warnings,
        pinning=pinning,
        kubo_api_url=kubo_api_url,
        kubo_api_auth=env.secret("KUBO_API_AUTH"),
        ipfs_gateway_url=env_url(env, "IPFS_GATEWAY_URL", ("http", "https")),
        pinata_jwt=pinata_jwt,
        pinata_api_url=env_url(env, "PINATA_API_URL", ("http", "https")) or Settings.pinata_api_url,
        pinata_upload_url=(
            env_url(env, "PINATA_UPLOAD_URL", ("http", "https")) or Settings.pinata_upload_url
        ),
        pinata_gateway_url=(
            env_url(env, "PINATA_GATEWAY_URL", ("http", "https")) or Settings.pinata_gateway_url
        ),
        data_dir=web.data_dir,
        log_level=web.log_level,
        rpc_url=web.rpc_urls[0] if web.rpc_urls else None,
        rpc_urls=web.rpc_urls,
        chain_id=chain_id,
        hot_wallet_key=keys[0],
        more_hot_wallet_keys=keys[1:],
        lane_takeover_s=env_number(env, "LANE_TAKEOVER_S", 10, low=1),
        hot_wallet_key_is_dev=key_is_dev,
        contract_address=web.contract_address,
        factory_address=env_address(env, "FACTORY_ADDRESS"),
        admin_address=env_address(env, "ADMIN_ADDRESS"),
        royalty_receiver=env_address(env, "ROYALTY_RECEIVER"),
        royalty_bps=env_int(env, "ROYALTY_BPS", 500, low=0, high=10_000),
        collection_name=web.collection_name,
        collection_symbol=env.get("COLLECTION_SYMBOL") or "MINT",
        contract_uri=env.get("CONTRACT_URI") or "",
        max_fee_per_gas_wei=max_fee,
        priority_fee_wei=priority_fee,
        confirmations=env_int(env, "CONFIRMATIONS", 1 if local_mode else 3, low=1, high=1000),
        explorer_url=web.explorer_url,
        public_base_url=web.public_base_url,
        anvil_port=env_int(env, "ANVIL_PORT", 8545, low=1, high=65535),
        anvil_block_time=env_number(env, "ANVIL_BLOCK_TIME", 0, low=0),
        database_url=web.database_url,
        database_pool_size=web.database_pool_size,
        max_image_bytes=int(env_number(env, "MAX_IMAGE_MB", 10, low=0.001) * 1_000_000),
        max_image_pixels=env_int(env, "MAX_IMAGE_PIXELS", 50_000_000, low=1),
        max_image_frames=env_int(env, "MAX_IMAGE_FRAMES", 1000, low=1),
        image_cpu_seconds=env_number(env, "IMAGE_CPU_SECONDS", 10, low=0.1),
        batch_max_size=env_int(env, "BATCH_MAX_SIZE", 100, low=1, high=500),
        content_workers=env_int(env, "CONTENT_WORKERS", 1, low=1, high=64),
        user_mints_per_minute=env_int(env, "USER_MINTS_PER_MINUTE", 5, low=0),
        community_mints_per_minute=env_int(env, "COMMUNITY_MINTS_PER_MINUTE", 60, low=0),
        batch_max_wait=env_number(env, "BATCH_MAX_WAIT_S", 1.0 if local_mode else 5.0, low=0),
        fee_bump_after=env_number(env, "FEE_BUMP_AFTER_S", 60, low=1),
        max_spend_per_day_wei=int(spend_cap * 10**18) or None,
        custody_address=env_address(env, "CUSTODY_ADDRESS"),
        http_host=web.http_host,
        http_port=web.http_port,
        rpc_timeout=web.rpc_timeout,
        chain_kind=(env.get("CHAIN_KIND") or "evm").lower(),
        l1_fee=env_choice(env, "L1_FEE", L1_FEE_MODES),
        web_server=env_choice(env, "WEB_SERVER", WEB_SERVER_MODES),
        poll_interval=env_number(env, "POLL_INTERVAL_S", 0.2 if local_mode else 2.0, low=0.01),
        answer_max_attempts=env_int(env, "ANSWER_MAX_ATTEMPTS", 100, low=1),
        answer_give_up_after=timedelta(hours=env_number(env, "ANSWER_GIVE_UP_HOURS", 24, low=0)),
        crash_at=crash_at,
        inbox_retention_days=env_int(env, "INBOX_RETENTION_DAYS", 7, low=1),
        inbox_max_attempts=env_int(env, "INBOX_MAX_ATTEMPTS", 5, low=1, high=100),
        inbox_lease_s=env_number(env, "INBOX_LEASE_S", 30, low=1),
        holdings_cache_s=env_number(env, "HOLDINGS_CACHE_S", 5, low=0),
        holder_recheck_s=env_number(env, "HOLDER_RECHECK_S", 600, low=1),
    )


def load_web_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = None
) -> WebSettings:
    """The web role's settings, read like `load_settings` reads them, but nothing secret:
    the web role never reads the hot wallet's key (nor decrypts its keystore) or a chat token."""
    env, _ = read_env(environ, env_file)
    return _web_settings(env)


def _web_settings(env: Env) -> WebSettings:
    level = (env.get("LOG_LEVEL") or "INFO").upper()
    if level not in _LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"must be one of {', '.join(_LOG_LEVELS)}, got {level!r}")
    data_dir = Path(env.get("DATA_DIR") or "data").resolve()
    database_url = env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'mintbot.sqlite3'}"
    if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "DATABASE_URL", "must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    rpc_urls = env_rpc_urls(env)
    chain_id = env_int(env, "CHAIN_ID", 0, low=1) or None
    if rpc_urls and chain_id is None:
        raise ConfigError(
            "CHAIN_ID",
            "required with RPC_URL: the chain the node must be on (1 Ethereum, 8453 Base, ...)",
        )
    anvil_port = env_int(env, "ANVIL_PORT", 8545, low=1, high=65535)
    return WebSettings(
        data_dir=data_dir,
        log_level=level,
        database_url=database_url,
        database_pool_size=env_int(env, "DATABASE_POOL_SIZE", 10, low=1, high=100),
        rpc_url=rpc_urls[0] if rpc_urls else f"http://127.0.0.1:{anvil_port}",
        rpc_urls=rpc_urls,
        chain_id=chain_id,
        contract_address=env_address(env, "CONTRACT_ADDRESS"),
        explorer_url=env_url(env, "EXPLORER_URL", ("http", "https")),
        public_base_url=env_url(env, "PUBLIC_BASE_URL", ("http", "https"))
        or "http://127.0.0.1:8080",
        collection_name=env.get("COLLECTION_NAME") or "mintbot Community Collection",
        http_host=env.get("HTTP_HOST") or "127.0.0.1",
        http_port=env_int(env, "HTTP_PORT", 8080, low=0, high=65535),
        rpc_timeout=env_number(env, "RPC_TIMEOUT_S", 10, low=0.1),
        dashboard_url=env_url(env, "DASHBOARD_URL", ("http", "https")),
    )
