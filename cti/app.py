"""The engine process: wiring of config, store, softswitch clients, orchestrator and HTTP.

Resources open in one place and close in reverse order (aiohttp
``cleanup_ctx``): the database and the buffered writer, then the ARI client
(whose events feed the orchestrator), then the AMI client.  The HTTP server
is the aiohttp application itself.

Deployment values come from ``config/engine.yaml``; any of them may be
overridden from the environment (``HOTLINE_ARI_URL``, ``HOTLINE_AMI_HOST``,
``HOTLINE_AMI_PORT``, ``HOTLINE_HTTP_HOST``, ``HOTLINE_HTTP_PORT``,
``HOTLINE_RECORDINGS_DIR``, ``HOTLINE_TICKETS_URL``, ``HOTLINE_TICKETS_RETRY_CAP``,
``HOTLINE_STATE_DIR``, ``HOTLINE_PUBLIC_URL``),
and secrets come only from the environment variables that ``engine.yaml``
names.  ``SIGHUP`` reloads the configuration.

With ``nodes:`` in ``engine.yaml`` the engine drives several Asterisk nodes
(:mod:`cti.executor.nodes`): one ARI and one AMI client per node, all
connected at start (a node that does not answer is down and tried again in
the background); ``HOTLINE_ARI_URL`` and the AMI overrides then do not apply,
and each node's secrets come from the variables named after it.

With ``availability:`` in ``engine.yaml`` the engine is one of several
(:mod:`cti.availability`): it starts as a standby — database open, HTTP up,
answering ``503`` with the active engine's address — and opens its softswitch
links, services and today's figures only once it holds the lease.  Deposed, it
stops and :func:`serve` starts it again as a standby.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from cti import logs, standby
from cti.ami import AmiClient, AmiError
from cti.api import agents as agents_api
from cti.api import figures as figures_api
from cti.api import install as install_api
from cti.api import live as live_api
from cti.api import transfers as transfers_api
from cti.api.audit import AUDITOR, Auditor
from cti.api.auth import Authenticator
from cti.api.connections import (
    ConnectionCap,
    MaskedAccessLogger,
    hide_server_version,
    server_logger,
)
from cti.api.http import (
    AUTH,
    LIMITS,
    PRINCIPAL_KEY,
    SERVER_NAME,
    THROTTLE,
    InputLimits,
    audit_refusals,
    authenticate,
    json_errors,
    secure_headers,
)
from cti.api.logins import PINS
from cti.api.sessions import SessionStore
from cti.api.throttle import Limit, LoginThrottle, PinVerifier
from cti.appkeys import (
    AMI,
    ARI,
    AVAILABILITY,
    CONFIG,
    DATABASE,
    NODES,
    OUTBOX,
    RECORDINGS,
    TICKETS,
    WRITER,
)
from cti.ari.client import AriClient
from cti.ari.errors import AriError
from cti.availability import Availability, Role
from cti.callbackdialler import ProgressiveDialler
from cti.config import Config, ConfigManager, ConfigVersion
from cti.engine import records
from cti.engine.pbx import Pbx
from cti.errors import ConfigError, StoreError
from cti.executor import Engine, restore_agents
from cti.executor.dialler import VisitDialler
from cti.executor.dialler import result_writer as visit_result_writer
from cti.executor.nodes import Node, Nodes
from cti.lease import Lease
from cti.link import IllegalLinkTransition
from cti.recordings.api import add_recording_routes
from cti.recordings.service import RecordingService, RecordingSettings
from cti.recordings.source import AriRecordingSource, NodesRecordingSource
from cti.shipped import config_dir
from cti.store import Database
from cti.store import callbacks as callback_store
from cti.store.callbacks import listing_rules
from cti.tickets import SenderSettings, TicketOutbox, TicketSender, make_outbox_hook
from cti.visitsweep import VisitSweeper
from cti.writer import BufferedWriter
from recordings import Principal as RecordingPrincipal

log = structlog.get_logger("cti.app")


@dataclass(frozen=True)
class NodeSettings:
    """One Asterisk node of several: where its ARI and AMI are, and their secrets."""

    name: str
    ari_url: str
    ari_password: str = field(repr=False)
    ami_host: str
    ami_port: int
    ami_secret: str = field(repr=False)


@dataclass(frozen=True)
class Settings:
    """Everything the process needs that is not call routing."""

    config_dir: str
    ari_url: str
    ari_app: str
    ari_user: str
    ari_password: str = field(repr=False)
    ami_host: str
    ami_port: int
    ami_user: str
    ami_secret: str = field(repr=False)
    ami_ping_interval: float
    http_host: str
    http_port: int
    database_url: str = field(repr=False)
    state_dir: str
    recordings_dir: str
    tickets_url: str
    public_url: str = ""
    tickets_retry_cap: float | None = None  # overrides engine.yaml tickets.retry.cap when set
    use_ami: bool = True
    # Several Asterisk nodes (engine.yaml nodes:); empty: the one node above.
    nodes: tuple[NodeSettings, ...] = ()
    node_lost_after: float = 10.0

    @classmethod
    def from_config(
        cls, config_dir: str, config: Config, environ: Mapping[str, str] | None = None
    ) -> Settings:
        env = os.environ if environ is None else environ
        e = config.engine
        return cls(
            config_dir=config_dir,
            ari_url=env.get("HOTLINE_ARI_URL", str(e.ari.url)),
            ari_app=e.ari.app,
            ari_user=e.ari.user,
            ari_password=env.get(e.ari.password_env, ""),
            ami_host=env.get("HOTLINE_AMI_HOST", e.ami.host),
            ami_port=int(env.get("HOTLINE_AMI_PORT", e.ami.port)),
            ami_user=e.ami.user,
            ami_secret=env.get(e.ami.secret_env, ""),
            ami_ping_interval=float(e.ami.ping_interval),
            http_host=env.get("HOTLINE_HTTP_HOST", e.http.host),
            http_port=int(env.get("HOTLINE_HTTP_PORT", e.http.port)),
            database_url=env.get(e.database.dsn_env, ""),
            state_dir=env.get("HOTLINE_STATE_DIR", "/var/lib/hotline"),
            recordings_dir=env.get("HOTLINE_RECORDINGS_DIR", e.recordings.directory),
            tickets_url=env.get("HOTLINE_TICKETS_URL", str(e.tickets.url)),
            public_url=env.get("HOTLINE_PUBLIC_URL", f"http://{e.http.host}:{e.http.port}"),
            tickets_retry_cap=_optional_seconds(env, "HOTLINE_TICKETS_RETRY_CAP"),
            nodes=tuple(
                NodeSettings(
                    name=node.name,
                    ari_url=str(node.ari_url),
                    ari_password=env.get(node.ari_password_env, ""),
                    ami_host=node.ami_host,
                    ami_port=int(node.ami_port),
                    ami_secret=env.get(node.ami_secret_env, ""),
                )
                for node in e.nodes
            ),
            node_lost_after=float(e.node_lost_after),
        )

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _optional_seconds(env: Mapping[str, str], name: str) -> float | None:
    """A positive number of seconds from ``env[name]``; None when unset or empty."""
    text = env.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}: not a number of seconds: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{name}: must be a positive number of seconds, not {text!r}")
    return value


def ticket_backoff(settings: Settings, config: Config) -> tuple[float, float]:
    """``(base, cap)`` seconds for the ticket sender's backoff.

    ``engine.yaml`` ``tickets.retry`` gives both; ``HOTLINE_TICKETS_RETRY_CAP``
    (``settings.tickets_retry_cap``), when set, replaces the cap, and the base
    is lowered to it if it would exceed it (the sender requires base <= cap).
    """
    retry = config.engine.tickets.retry
    cap = retry.cap if settings.tickets_retry_cap is None else settings.tickets_retry_cap
    return min(retry.initial, cap), cap


SETTINGS = web.AppKey("settings", Settings)
VISIT_DIALLER = web.AppKey("visit_dialler", VisitDialler)


async def _store(app: web.Application) -> AsyncIterator[None]:
    db = app[DATABASE]
    try:
        await db.open()
    except StoreError as exc:
        # A database outage never stops calls: the writer buffers and spools,
        # and the pool opens on the first write that finds the database back.
        log.error("database_unavailable_at_start", error=str(exc))
    app[WRITER].start()
    yield
    await app[WRITER].stop()
    await db.close()


async def _softswitch(app: web.Application) -> AsyncIterator[None]:
    availability = app.get(AVAILABILITY)
    if availability is None:
        await _start_links(app)
        yield
        await _stop_links(app)
        return
    log.info("engine_standing_by", holder=availability.lease.holder)
    availability.start()
    yield
    await availability.stop()
    await _stop_links(app)


async def _start_links(app: web.Application) -> None:
    """What a starting engine does: agents back, the ARI application (adopting the
    calls Asterisk kept), AMI."""
    settings = app[SETTINGS]
    engine = app[agents_api.ENGINE]
    ari = app[ARI]
    # Agents first, so that calls adopted on connecting find their agents.
    await restore_agents(engine, app[DATABASE])
    nodes = engine.nodes
    if nodes is not None:
        await _connect_nodes(app, nodes)
    else:
        await _connect_with_retry(ari.connect, "ari")
    await engine.remember_pbx()
    ami = app.get(AMI)
    if ami is not None and nodes is None:
        await _connect_with_retry(ami.connect, "ami")
    log.info("engine_started", config=engine.config_version[:12], http_port=settings.http_port)


async def _connect_nodes(app: web.Application, nodes: Nodes) -> None:
    """Every node at once; a node that does not answer is down, and tried again meanwhile."""

    async def connect(node: Node) -> None:
        try:
            await _connect_with_retry(node.ari.connect, f"ari_{node.name}", attempts=3)
        except (AriError, AmiError) as exc:
            log.error("node_unreachable_at_start", node=node.name, error=str(exc))
            node.down = True
            node.lost += 1
            _spawn_link_task(app, _keep_connecting(node))
            return
        if node.ami is not None:
            _spawn_link_task(app, _connect_with_retry(node.ami.connect, f"ami_{node.name}"))

    await asyncio.gather(*(connect(node) for node in nodes.nodes))


async def _keep_connecting(node: Node) -> None:
    """A node down since the start: its ARI (then AMI) connected once it answers."""
    delay = 1.0
    while True:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10.0)
        try:
            await node.ari.connect()
        except AriError:
            continue
        except IllegalLinkTransition:
            return  # closed meanwhile
        node.down = False
        log.warning("node_up", node=node.name)
        if node.ami is not None:
            await _connect_with_retry(node.ami.connect, f"ami_{node.name}")
        return


LINK_TASKS: web.AppKey[set[asyncio.Task[Any]]] = web.AppKey("link_tasks")


def _spawn_link_task(app: web.Application, work: Any) -> None:
    tasks: set[asyncio.Task[Any]] = app[LINK_TASKS]
    task = asyncio.get_running_loop().create_task(work)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _stop_links(app: web.Application) -> None:
    engine = app[agents_api.ENGINE]
    engine.shutdown()
    tasks: set[asyncio.Task[Any]] = app[LINK_TASKS]
    for task in list(tasks):
        task.cancel()
    if engine.nodes is not None:
        for node in engine.nodes.nodes:
            if node.ami is not None:
                await node.ami.close()
            await node.ari.close()
        return
    ami = app.get(AMI)
    if ami is not None:
        await ami.close()
    await app[ARI].close()


async def _activate(app: web.Application) -> None:
    """A standby that took the lease starts as a restarted engine would."""
    async with contextlib.asynccontextmanager(figures_api.rebuild)(app):
        pass  # today's figures from the store, as the engine that ran until now left them
    await _start_services(app)
    await _start_links(app)


async def _start_services(app: web.Application) -> None:
    await app[RECORDINGS].start()
    await app[TICKETS].start()


async def _stop_services(app: web.Application) -> None:
    await app[TICKETS].stop()
    await app[RECORDINGS].stop()


async def _services(app: web.Application) -> AsyncIterator[None]:
    if AVAILABILITY not in app:
        await _start_services(app)
    yield
    await _stop_services(app)


async def _visit_sweeper(app: web.Application) -> AsyncIterator[None]:
    """Return visits whose window closed unfinished are expired and reported to the backend."""
    sweeper = VisitSweeper(app[DATABASE], clock=app[agents_api.ENGINE].now_dt)
    sweeper.start()
    yield
    await sweeper.stop()


async def _progressive_dialler(app: web.Application) -> AsyncIterator[None]:
    """Callbacks of queues set ``progressive``: a free agent is rung, then the citizen."""

    def active() -> bool:
        return standby.role_of(app) in (standby.SINGLE, str(Role.ACTIVE))

    dialler = ProgressiveDialler(app[DATABASE], app[agents_api.ENGINE], active=active)
    dialler.start()
    yield
    await dialler.stop()


async def _visit_dialler(app: web.Application) -> AsyncIterator[None]:
    """Automatic return visits that are due are dialled, within pacing, by the active engine."""

    def active() -> bool:
        return standby.role_of(app) in (standby.SINGLE, str(Role.ACTIVE))

    dialler = VisitDialler(app[DATABASE], app[agents_api.ENGINE], active=active)
    app[VISIT_DIALLER] = dialler
    dialler.start()
    yield
    await dialler.stop()


async def _connect_with_retry(connect: Any, name: str, attempts: int = 30) -> None:
    delay = 0.2
    for attempt in range(1, attempts + 1):
        try:
            await connect()
            return
        except (AriError, AmiError) as exc:
            if attempt == attempts:
                raise
            log.warning(f"{name}_connect_retry", attempt=attempt, error=str(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _config_changed(
    app: web.Application, engine: Engine, config: Config, version: ConfigVersion
) -> None:
    engine.apply_config(config, version.digest)
    app[WRITER].submit(
        "config_version",
        {
            "sha256": version.digest,
            "loaded_at": version.loaded_at,
            "requested_by": version.requested_by,
            "summary": version.summary,
        },
    )
    log.info("config_reloaded", digest=version.digest[:12], requested_by=version.requested_by)


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    ari = app.get(ARI)
    ami = app.get(AMI)
    writer = app.get(WRITER)
    body: dict[str, Any] = {
        "status": "ok",
        "role": standby.role_of(app),
        "ari": str(ari.link.state) if ari else "absent",
        "ami": str(ami.link.state) if ami else "absent",
        "database": "up" if writer is not None and writer.database_up else "down",
        "pending_writes": writer.pending if writer is not None else 0,
    }
    engine = app.get(agents_api.ENGINE)
    if engine is not None and engine.nodes is not None:
        body["nodes"] = engine.nodes.view()
    return web.json_response(body)


def _availability(app: web.Application, settings: Settings, config: Config) -> None:
    plan = config.engine.availability
    if plan is not None:
        standby.install(
            app,
            Lease(
                settings.database_url,
                settings.ari_app,
                standby.holder_name(config.engine.node),
                settings.public_url,
                seconds=float(plan.lease_seconds),
            ),
            renew_seconds=float(plan.renew_seconds),
            activate=lambda: _activate(app),
        )


def _ari_client(settings: Settings, config: Config, url: str, password: str) -> AriClient:
    return AriClient(
        url,
        settings.ari_user,
        password,
        settings.ari_app,
        user_agent=f"hotline-cti/{config.engine.node or 'engine'}",
    )


def _nodes(settings: Settings, config: Config) -> Nodes | None:
    """The Asterisk nodes with their clients, when ``engine.yaml`` lists several."""
    if not settings.nodes:
        return None
    made = []
    for node in settings.nodes:
        ari = _ari_client(settings, config, node.ari_url, node.ari_password)
        ami = None
        if settings.use_ami:
            ami = AmiClient(
                node.ami_host,
                node.ami_port,
                settings.ami_user,
                node.ami_secret,
                ping_interval=settings.ami_ping_interval,
            )
        made.append(Node(node.name, ari, Pbx(ari, node.name), ami))
    return Nodes(made, settings.node_lost_after)


def build_app(settings: Settings, manager: ConfigManager) -> web.Application:
    """Every part of the engine, built; the cleanup contexts start and stop them."""
    config, version = manager.snapshot()
    security = config.engine.security
    app = web.Application(
        middlewares=[standby.gate, audit_refusals, json_errors, authenticate],
        client_max_size=security.json_max_bytes,
    )
    app.on_response_prepare.append(secure_headers)
    app[SETTINGS] = settings
    app[CONFIG] = manager
    app[AUTH] = Authenticator()
    app[LIMITS] = InputLimits(json_max_depth=security.json_max_depth)
    app[live_api.SOCKET_AUTH_S] = float(security.socket_auth_seconds)
    app[THROTTLE] = LoginThrottle(
        _limit(security.login_per_account), _limit(security.login_per_address)
    )
    pins = PinVerifier(
        security.pin_hash_workers, security.pin_hash_queue, nice=security.pin_hash_nice
    )
    app[PINS] = pins

    async def _close_pins(_: web.Application) -> None:
        pins.close()

    app.on_cleanup.append(_close_pins)
    db = Database(settings.database_url)
    writer = BufferedWriter(db, Path(settings.state_dir) / "spool" / "writes.jsonl")
    app[AUDITOR] = Auditor(
        writer.submit,
        per_minute=security.anonymous_audit_per_minute,
        text_max=security.anonymous_audit_text,
    )
    records.register(
        writer, make_outbox_hook(recording_base_url=f"{settings.public_url}/api/recordings")
    )
    # Missed calls land on the callback list, and answered ones clear it, as records are written.
    writer.follow(
        "call_final", callback_store.call_final_follower(lambda: listing_rules(manager.current))
    )
    writer.follow("call", *callback_store.call_follower(lambda: listing_rules(manager.current)))
    writer.register("visit_result", visit_result_writer())
    app[DATABASE] = db
    app[WRITER] = writer
    app[LINK_TASKS] = set()
    nodes = _nodes(settings, config)
    ari = (
        nodes.first.ari
        if nodes is not None
        else _ari_client(settings, config, settings.ari_url, settings.ari_password)
    )
    app[ARI] = ari
    app[AUTH].store = SessionStore(db, writer)
    source: AriRecordingSource | NodesRecordingSource = AriRecordingSource(ari)
    if nodes is not None:
        source = NodesRecordingSource([AriRecordingSource(node.ari) for node in nodes.nodes])
    recordings = RecordingService(
        db,
        source,
        RecordingSettings(
            directory=Path(settings.recordings_dir),
            retention_months=config.engine.recordings.retention_months,
            zone=config.timezone,
        ),
    )
    app[RECORDINGS] = recordings
    app[OUTBOX] = TicketOutbox(db)
    backoff_base, backoff_cap = ticket_backoff(settings, config)
    app[TICKETS] = TicketSender(
        db,
        SenderSettings(
            backend_url=settings.tickets_url,
            token_env=config.engine.tickets.token_env,
            request_timeout_s=float(config.engine.tickets.timeout),
            backoff_base_s=backoff_base,
            backoff_cap_s=backoff_cap,
            engine_id=config.engine.node,
        ),
    )
    engine = Engine(
        config,
        version.digest,
        nodes.first.pbx if nodes is not None else Pbx(ari),
        writer,
        recordings=recordings,
        nodes=nodes,
    )
    app[agents_api.ENGINE] = engine
    if nodes is not None:
        app[NODES] = nodes
        engine.ami = nodes.first.ami
        if nodes.first.ami is not None:
            app[AMI] = nodes.first.ami
    else:
        ari.on_event(engine.on_ari)
        ari.set_known(engine.known)
    if settings.use_ami and nodes is None:
        ami = AmiClient(
            settings.ami_host,
            settings.ami_port,
            settings.ami_user,
            settings.ami_secret,
            ping_interval=settings.ami_ping_interval,
        )
        ami.on_event(engine.on_ami)
        engine.ami = ami
        app[AMI] = ami

    def on_change(cfg: Config, ver: ConfigVersion) -> None:
        _config_changed(app, engine, cfg, ver)

    manager.on_change.append(on_change)

    async def _forget_config(_: web.Application) -> None:
        with contextlib.suppress(ValueError):
            manager.on_change.remove(on_change)

    app.on_cleanup.append(_forget_config)
    _availability(app, settings, config)
    app.cleanup_ctx.append(_store)
    if AVAILABILITY not in app:
        app.cleanup_ctx.append(figures_api.rebuild)  # today's figures, before calls are adopted
    app.cleanup_ctx.append(_services)
    app.cleanup_ctx.append(_visit_sweeper)
    app.cleanup_ctx.append(_progressive_dialler)
    app.cleanup_ctx.append(_softswitch)
    app.cleanup_ctx.append(_visit_dialler)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/healthz/active", standby.healthz_active)
    install_api(app)
    transfers_api.add_routes(app)
    add_recording_routes(app, recordings, principal_of=_recording_principal)
    return app


def _limit(throttle: Any) -> Limit:
    return Limit(throttle.failures, float(throttle.window_seconds), float(throttle.lockout_seconds))


def _recording_principal(request: web.Request) -> RecordingPrincipal | None:
    who = request.get(PRINCIPAL_KEY)
    if who is None:
        return None
    return RecordingPrincipal(who.id, who.role.value)


class EngineProcess:
    """The engine with its HTTP server, started and stopped as one (tests, demo, run)."""

    def __init__(self, settings: Settings, manager: ConfigManager) -> None:
        self.settings = settings
        self.manager = manager
        self.app = build_app(settings, manager)
        self._runner: web.AppRunner | None = None
        self.port = settings.http_port

    @property
    def engine(self) -> Engine:
        return self.app[agents_api.ENGINE]

    @property
    def writer(self) -> BufferedWriter:
        return self.app[WRITER]

    @property
    def availability(self) -> Availability | None:
        return self.app.get(AVAILABILITY)

    async def deposed(self) -> None:
        """Return once this engine was deposed (never, for a single engine)."""
        availability = self.availability
        if availability is None:
            await asyncio.Event().wait()
        else:
            await availability.deposed.wait()

    @property
    def url(self) -> str:
        return f"http://{self.settings.http_host}:{self.port}"

    async def start(self) -> EngineProcess:
        security = self.manager.current.engine.security
        hide_server_version(SERVER_NAME)
        self._runner = web.AppRunner(
            self.app,
            handle_signals=False,
            keepalive_timeout=float(security.header_timeout_seconds),
            access_log_class=MaskedAccessLogger,
            logger=server_logger(),
        )
        await self._runner.setup()
        server = self._runner.server
        assert server is not None
        ConnectionCap(security.connections_per_address).install(server)
        site = web.TCPSite(self._runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        listening = site._server
        if isinstance(listening, asyncio.Server) and listening.sockets:
            self.port = listening.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> EngineProcess:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve(settings: Settings, manager: ConfigManager) -> None:
    """Run the engine until SIGINT or SIGTERM; a deposed engine starts again as a standby."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    pending: set[asyncio.Task[None]] = set()

    def reload() -> None:
        async def run() -> None:
            result = await manager.areload("sighup")
            if not result.accepted and result.status != "unchanged":
                for issue in result.issues:
                    log.error("config_reload_refused", issue=str(issue))

        task = loop.create_task(run())
        pending.add(task)
        task.add_done_callback(pending.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    while not stop.is_set():
        process = EngineProcess(settings, manager)
        await process.start()
        log.info("engine_listening", url=process.url, role=standby.role_of(process.app))
        stopping = loop.create_task(stop.wait())
        deposed = loop.create_task(process.deposed())
        await asyncio.wait({stopping, deposed}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopping, deposed):
            task.cancel()
        await process.stop()
        if not stop.is_set():
            log.warning("engine_restarting_as_standby")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hotline run", description="Run the engine.")
    parser.add_argument(
        "--config",
        default=str(config_dir()),
        help="configuration directory (default: the shipped deployment)",
    )
    parser.add_argument("--log-json", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logs.configure(json=args.log_json, level=args.log_level)
    try:
        manager = ConfigManager(args.config)
        settings = Settings.from_config(args.config, manager.current)
    except ConfigError as exc:
        print(f"hotline run: {exc}", file=sys.stderr)
        return 1
    if not settings.database_url:
        print(
            "hotline run: the database URL is not set (see engine.yaml database.dsn_env)",
            file=sys.stderr,
        )
        return 1
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, manager))
    return 0
