"""Events into the executor: ARI and AMI, arrivals in turn, reconciliation.

:class:`Intake` reads what the softswitch says and hands it to the
:class:`~cti.executor.carry.Executor` as switchboard events, in order:

- a new caller's ``StasisStart`` is only noted (:class:`~cti.engine.arrivals.Arrivals`)
  and decided in turn, so that the events of calls in progress read behind a
  burst of arrivals are decided first; an event of a channel whose arrival is
  not decided yet waits behind it;
- ``Recording*`` events also go to the recordings service;
- after every (re)connection (:class:`cti.ari.Reconciled`): the channels
  that vanished meanwhile (``ChannelsVanished``, as a restart of Asterisk
  when its start time changed), the calls a previous process left
  (``CallsFound``, ``StrayLegs``, read by :mod:`cti.executor.reconcile`),
  the application's bridges no call took back (destroyed), and the
  recordings that ended unseen;
- AMI: a seat's phone registered, went away or changed state (``SeatChanged``).
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from cti.ari import events as ari
from cti.ari.client import AriStreamItem, Reconciled
from cti.ari.reconcile import Known
from cti.engine.arrivals import Arrivals
from cti.engine.pbx import Pbx, PbxError
from cti.executor.carry import Executor
from cti.executor.reconcile import found_calls, pbx_startup
from cti.executor.translate import role, seat_change, seat_dialled, translate
from switchboard import events as ev
from switchboard.ids import ChannelId

log = structlog.get_logger("cti.executor")

_RECORDING_EVENTS = (ari.RecordingStarted, ari.RecordingFinished, ari.RecordingFailed)


class Intake:
    """The softswitch's events, as switchboard events, into one executor."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.arrivals = Arrivals(self._decide, executor.gate)
        self._startups: dict[str, str | None] = {}  # when each node's Asterisk started
        self._seats: Mapping[str, str] | None = None
        self._by_endpoint: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"<Intake {self.arrivals!r}>"

    def known(self) -> Known:
        """The channels and bridges the switchboard holds (reconciliation compares them)."""
        ex = self.executor
        waiting = frozenset(ChannelId(c) for c in self.arrivals.channels())
        channels = ex.board.channels() | waiting
        bridges = frozenset(ex.bridge_id(b) for b in ex.board.bridges())
        return Known(channels=channels, bridges=bridges)

    @property
    def pbx_startup(self) -> str | None:
        """When the (first) node's Asterisk started, as last read."""
        return self._startups.get(self.executor.pbx.node)

    def on_ari(self, item: AriStreamItem, pbx: Pbx | None = None) -> None:
        """One item of the ARI stream: an event, or the report of a (re)connection
        (of the node of ``pbx``, by default the executor's one node)."""
        if isinstance(item, Reconciled):
            self.arrivals.admit_all()
            self._reconciled(item, pbx or self.executor.pbx)
            return
        if self.arrivals.hold(item):
            return
        if isinstance(item, ari.StasisStart) and role(item) == "inbound":
            self.arrivals.arrive(item)
            return
        self._decide(item)

    def _decide(self, item: ari.AriEvent) -> None:
        ex = self.executor
        recordings = ex.recordings
        if recordings is not None and isinstance(item, _RECORDING_EVENTS):
            ex.spawn(recordings.handle_ari_event(item))
        try:
            if ex.dial_outs.concerns(item):
                event = ex.dial_outs.translate(item)
            elif isinstance(item, ari.StasisStart) and role(item) == "seat":
                event = seat_dialled(item, ex.new_call_id(), self._seat_of)
            else:
                event = translate(item, ex.new_call_id)
            if event is not None:
                ex.feed(event)
        except Exception:
            ex.lanes.errors += 1
            log.exception("executor_event_error", ari_event=item.type)

    def on_ami(self, event: object) -> None:
        """One AMI event: a seat's phone registered, went away or changed state."""
        change = seat_change(event, self._seat_of)
        if change is not None:
            self.executor.feed(change)

    def _seat_of(self, endpoint: str) -> str | None:
        seats = self.executor.board.config.seats
        if seats is not self._seats:
            # The index follows the configuration the switchboard serves.
            self._seats = seats
            self._by_endpoint = {}
            for seat, dial in seats.items():
                self._by_endpoint[dial] = self._by_endpoint[dial.split("/", 1)[-1]] = seat
        return self._by_endpoint.get(endpoint)

    async def remember_pbx(self, pbx: Pbx | None = None) -> None:
        """Note when Asterisk (of the node of ``pbx``) started, to recognise its restarts later."""
        pbx = pbx or self.executor.pbx
        self._startups[pbx.node] = await pbx_startup(pbx)

    def _reconciled(self, item: Reconciled, pbx: Pbx) -> None:
        ex = self.executor
        report = item.report
        if report.channels.vanished:
            ex.spawn(self._vanished(pbx, report.channels.vanished, item.reconnect))
        if report.channels.unknown or report.bridges.unknown:
            ex.spawn(self._found(pbx, item))
        if item.reconnect and ex.recordings is not None:
            ex.spawn(ex.recordings.resume_in_progress())

    async def _vanished(self, pbx: Pbx, vanished: frozenset[ChannelId], reconnect: bool) -> None:
        restarted = False
        if reconnect:
            startup = await pbx_startup(pbx)
            before = self._startups.get(pbx.node)
            restarted = None not in (startup, before) and startup != before
            self._startups[pbx.node] = startup or before
        if restarted:
            log.warning("pbx_restarted", node=pbx.node, calls=len(self.executor.board.calls()))
        self.executor.feed(ev.ChannelsVanished(frozenset(vanished), restarted))

    async def _found(self, pbx: Pbx, item: Reconciled) -> None:
        ex = self.executor
        calls, strays = await found_calls(pbx, item.report, ex.board.channels())
        ex.feed(calls)
        for stray in strays:
            ex.feed(stray)
        # Bridges of the application that no call took back (a supervisor's
        # monitoring bridge, a call ended on adoption) would stay in Asterisk.
        claimed = {ex.bridge_id(bridge) for bridge in ex.board.bridges()}
        left = sorted(item.report.bridges.unknown - claimed)
        for bridge in left:
            try:
                await pbx.destroy_bridge(bridge)
            except PbxError as exc:
                log.warning("bridge_left_not_destroyed", bridge=bridge, error=str(exc))
        log.info(
            "calls_found",
            calls=len(calls.calls),
            stray_legs=len(strays),
            bridges_destroyed=len(left),
        )
