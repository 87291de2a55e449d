"""The call orchestrator: softswitch events in, ACD/IVR decisions, softswitch requests out.

Theory of operation
-------------------
Everything that can change who talks to whom enters through one of the
synchronous ``on_*`` methods: an ARI event (``on_ari``), an AMI event
(``on_ami``), a timer (``_fire``), or a request from the API
(``agent_login`` ...).  Each method *decides* without awaiting: it updates the
:class:`~cti.engine.call.Call`, feeds the pure cores (``acd.Acd``,
``ivr.IvrSession``, ``ivr.SurveySession``) and collects the commands they
return.  Only then is I/O started: every softswitch request of a call runs in
that call's own ordered lane (:meth:`_io`), so the requests of one call keep
their order while calls proceed independently.  The result of a request that
matters to a decision (the redirecting number, a failed originate) comes back
as another synchronous decision.

Durable facts (call snapshots, timeline rows, agent state changes, ratings,
tickets) go to the :class:`~cti.writer.BufferedWriter`, which never blocks a
call; a database outage delays them and loses nothing.

Transfers, three-way calls, hold and mute (:mod:`cti.engine.transfers`) and
supervisors listening in (:mod:`cti.engine.monitoring`) decide their own
matters; the orchestrator hands them ``StasisStart`` of the legs they
originate (app args ``consultee``, ``supervisor``, ``snoop``), ``Dial``
verdicts of those legs, every channel that goes away before it looks at it
itself (:meth:`Engine._channel_gone`: a consultee, or the agent in the middle
of a transfer), their timers, an agent connecting (a transfer to a queue is
answered), an agent leaving (monitoring ends), and the end of a call
(:meth:`Engine._finalize`), which closes every leg still open so that the
ticket carries it.

Asterisk behaviours relied on are named where they are used; the transcripts
in ``tests/fixtures/asterisk/transcripts/`` show them.

Layout: :class:`Engine` (this module) holds the state, the clock, the timers,
the I/O lanes and the writes; its behaviour comes from mixins, one module per
concern: :mod:`~cti.engine.events` (ARI/AMI events, reconciliation, seats),
:mod:`~cti.engine.routing` (arrival, route, prompts),
:mod:`~cti.engine.ivrexec` (menus and surveys), :mod:`~cti.engine.queueing`
(ACD commands: offers, connect, overflow, callback, voicemail),
:mod:`~cti.engine.ending` (the end of a call, finalize, ticket) and
:mod:`~cti.engine.hooks` (adoption and agent requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Coroutine, Hashable
from datetime import UTC, datetime
from typing import Any

import structlog

import acd
import ivr
from cti.config import Config
from cti.engine import adopt
from cti.engine.acdmap import acd_config
from cti.engine.arrivals import Arrivals
from cti.engine.call import Call
from cti.engine.ending import EndingMixin
from cti.engine.events import EventsMixin
from cti.engine.gate import PriorityGate
from cti.engine.hooks import HooksMixin
from cti.engine.ivrexec import IvrMixin
from cti.engine.monitoring import Monitors
from cti.engine.pbx import Pbx, PbxError
from cti.engine.queueing import QueueingMixin
from cti.engine.routing import RoutingMixin
from cti.engine.timers import Timers
from cti.engine.transfers import Transfers
from cti.ids import CallId, ChannelId
from cti.writer import BufferedWriter

log = structlog.get_logger("cti.engine")

CallListener = Callable[[Call], None]
AgentListener = Callable[[acd.AgentStateChanged], None]


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class Engine(EventsMixin, RoutingMixin, IvrMixin, QueueingMixin, EndingMixin, HooksMixin):
    """The orchestrator of one engine process (one Asterisk)."""

    def __init__(
        self,
        config: Config,
        config_version: str,
        pbx: Pbx,
        writer: BufferedWriter,
        *,
        recordings: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.recordings = recordings
        self.config = config
        self.config_version = config_version
        self.pbx = pbx
        self.writer = writer
        self.clock = clock
        self.acd = acd.Acd(acd_config(config))
        self.timers = Timers(self._fire)
        self.calls: dict[CallId, Call] = {}
        self.by_channel: dict[ChannelId, CallId] = {}
        self.leg_agent: dict[ChannelId, str] = {}
        self.playbacks: dict[str, tuple[CallId, str, str]] = {}  # ari id -> (call, kind, ref)
        self.ivr: dict[CallId, ivr.IvrSession] = {}
        self.surveys: dict[CallId, ivr.SurveySession] = {}
        self.route_steps: dict[CallId, list[tuple[str, bool]]] = {}
        self.call_configs: dict[CallId, Config] = {}
        self.seat_of_endpoint: dict[str, str] = {}
        self.agent_seat: dict[str, str] = {}
        self.agent_states: dict[str, acd.AgentStateChanged] = {}
        self.recent_ended: dict[CallId, Call] = {}
        self.call_listeners: list[CallListener] = []
        self.ended_listeners: list[CallListener] = []
        self.agent_listeners: list[AgentListener] = []
        # The time written with the agent state change being announced to the
        # agent listeners, so that what they keep equals what was stored.
        self.agent_change_at: datetime | None = None
        self.errors = 0
        self.pbx_startup: str | None = None
        self.ami: Any = None  # the AMI client, for resynchronising seats
        self.last_adoption: adopt.AdoptionReport | None = None
        self.ratings_today: dict[int | None, int] = {}
        self.callbacks_open = 0
        self._lanes: dict[CallId, asyncio.Task[None]] = {}
        self.gate = PriorityGate(config.engine.ari.requests_in_flight)
        self.arrivals = Arrivals(self._decide, self.gate)
        self._background: set[asyncio.Task[Any]] = set()
        self._seq = itertools.count(1)
        self._index_seats()
        self.transfers = Transfers(self)
        self.monitors = Monitors(self)

    def __repr__(self) -> str:
        return f"<Engine calls={len(self.calls)} config={self.config_version[:12]}>"

    # ------------------------------------------------------------------ config

    def _index_seats(self) -> None:
        self.seats = {seat.id: seat for seat in self.config.seats.seats}
        self.seat_of_endpoint = {}
        for seat in self.config.seats.seats:
            self.seat_of_endpoint[seat.endpoint] = seat.id
            self.seat_of_endpoint[seat.endpoint.split("/", 1)[-1]] = seat.id

    def apply_config(self, config: Config, version: str) -> None:
        """A reloaded configuration serves new calls; calls in progress keep theirs."""
        self.config = config
        self.config_version = version
        self.gate.resize(config.engine.ari.requests_in_flight)
        self._index_seats()
        self._run_acd(acd.ConfigChanged(acd_config(config)))

    # ------------------------------------------------------------------ time

    def now(self) -> float:
        return self.clock()

    def now_dt(self) -> datetime:
        return _utc(self.clock())

    def _fire(self, key: Hashable) -> None:
        kind = key[0]  # type: ignore[index]
        if kind == "acd":
            self._run_acd(acd.TimerFired(key[1], key[2]))  # type: ignore[index]
        elif kind == "ivr":
            _, call_id, timer_id = key  # type: ignore[misc]
            self._run_ivr(call_id, ivr.Timeout(timer_id))
        elif kind == "survey":
            _, call_id, timer_id = key  # type: ignore[misc]
            self._run_survey(call_id, ivr.Timeout(timer_id))
        elif kind == "hangup":
            call = self.calls.get(key[1])  # type: ignore[index]
            if call is not None:
                self._hangup_caller(call, "normal")
        elif kind == "transfer":
            _, call_id, leg = key  # type: ignore[misc]
            self.transfers.timer_fired(call_id, leg)

    # ------------------------------------------------------------------ I/O lanes

    def _io(self, call_id: CallId, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``work`` after every earlier request of the same call, in a slot of the
        gate that serves the oldest call first (:mod:`cti.engine.gate`)."""
        previous = self._lanes.get(call_id)
        rank = self._rank(call_id)

        async def lane() -> None:
            if previous is not None:
                with contextlib.suppress(BaseException):
                    await previous
            try:
                async with self.gate.slot(rank):
                    await work()
            except PbxError as exc:
                log.info("pbx_request_failed", call_id=call_id, error=str(exc))
            except Exception:
                self.errors += 1
                log.exception("engine_io_error", call_id=call_id)

        task = asyncio.get_running_loop().create_task(lane())
        self._lanes[call_id] = task

        def done(t: asyncio.Task[None], call_id: CallId = call_id) -> None:
            if self._lanes.get(call_id) is t:
                del self._lanes[call_id]

        task.add_done_callback(done)

    def _rank(self, lane: CallId) -> float:
        """A lane's place at the gate: its call's arrival time (a new call's, if unknown)."""
        call_id = CallId(lane.split("/", 1)[0])
        call = self.calls.get(call_id) or self.recent_ended.get(call_id)
        return call.arrived_at.timestamp() if call is not None else self.now()

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for every lane of requests to finish (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            while self._lanes:
                await asyncio.gather(*list(self._lanes.values()), return_exceptions=True)

    def shutdown(self) -> None:
        self.timers.cancel_all()
        self.arrivals.cancel()
        for task in list(self._lanes.values()):
            task.cancel()

    # ------------------------------------------------------------------ writes

    def _write_call(self, call: Call) -> None:
        self.writer.submit("call", call.record())
        self._persist(call)
        for listener in self.call_listeners:
            listener(call)

    def _persist(self, call: Call) -> None:
        """Keep the call's picture on its caller channel, for adoption after a restart."""
        if call.ended:
            return
        state = adopt.state_of(call, self.ivr.get(call.call_id))
        if state == call.persisted:
            return
        call.persisted = state
        ch = call.caller_channel
        self._io(call.call_id, lambda: self.pbx.set_var(ch, adopt.STATE_VAR, state))

    def _timeline(self, call: Call, kind: str, agent: str | None = None, **detail: Any) -> None:
        self.writer.submit(
            "call_event",
            {
                "call_id": call.call_id,
                "at": self.now_dt(),
                "kind": kind,
                "agent": agent,
                "detail": detail,
            },
        )
