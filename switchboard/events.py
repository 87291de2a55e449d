"""Events: what the shell tells the switchboard.

The shell translates ARI and AMI events, the results of its own requests,
its timers and the toolbar's requests into these, and calls
``Switchboard.handle(event, now)``.  Every event may arrive late or twice:
one about a channel, playback or timer the switchboard no longer knows
changes nothing (a late agent leg that answers is hung up).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import acd
import transfer
from switchboard.config import FlowConfig
from switchboard.ids import CallId, ChannelId, PlaybackId, RecordingName
from switchboard.timers import TimerKey


@dataclass(frozen=True, slots=True)
class CallerArrived:
    """A caller's channel entered the application (ARI ``StasisStart``, role ``inbound``).

    ``call_id`` is the identity the shell chose for the new call.
    ``redirecting`` is the number the call was forwarded from, carried by the
    event itself (Stasis argument ``${REDIRECTING(from-num)}`` or ari.conf
    ``channelvars``, ``channelvars_and_stasis_args.jsonl``): empty when the
    call was not forwarded, ``None`` when the event cannot say (an older
    dialplan); then the switchboard asks for it with ``ReadRedirecting``.
    """

    call_id: CallId
    channel: ChannelId
    dialled: str
    caller_number: str = ""
    caller_name: str = ""
    redirecting: str | None = ""


@dataclass(frozen=True, slots=True)
class RedirectingRead:
    """The answer to ``ReadRedirecting``: ``REDIRECTING(from-num)`` ('' when not forwarded)."""

    channel: ChannelId
    number: str


@dataclass(frozen=True, slots=True)
class ChannelLeft:
    """A channel is gone (ARI ``StasisEnd`` / ``ChannelDestroyed``, or a hang-up refused as gone).

    ``cause`` is the Q.850 hang-up cause when known (17 busy, 18/19 no answer).
    """

    channel: ChannelId
    cause: int | None = None


class DialStatus(StrEnum):
    """The verdict of a leg's dial (ARI ``Dial`` ``dialstatus``, or the hang-up cause)."""

    BUSY = "BUSY"  # agent_busy_486.jsonl
    NOANSWER = "NOANSWER"  # agent_no_answer.jsonl
    CHANUNAVAIL = "CHANUNAVAIL"
    CONGESTION = "CONGESTION"
    CANCEL = "CANCEL"


@dataclass(frozen=True, slots=True)
class LegDialed:
    """A leg's dial ended without an answer.

    For an originated leg no ``StasisStart`` follows.  For a ``DialOut`` leg
    the shell also reports a dial timeout (Asterisk says no ``Dial``
    NOANSWER then, only ``ChannelDestroyed`` cause 19) and a refused dial
    request (``CHANUNAVAIL``); a busy created leg may stay up until hung up.
    """

    leg: ChannelId
    status: DialStatus


@dataclass(frozen=True, slots=True)
class OriginateFailed:
    """The originate (or a ``DialOut``'s create) of a leg was refused (ARI error, unknown endpoint)."""

    leg: ChannelId
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AgentLegAnswered:
    """An agent leg answered (ARI ``StasisStart`` with args ``agent,<call>,<agent>``)."""

    leg: ChannelId
    call_id: CallId
    agent: acd.AgentId


@dataclass(frozen=True, slots=True)
class OutboundAnswered:
    """A ``DialOut`` leg answered (ARI ``Dial`` ``ANSWER``; it is in the application already)."""

    leg: ChannelId
    call_id: CallId


@dataclass(frozen=True, slots=True)
class SeatDialled:
    """A seat phone dialled a number: its channel entered the application (role ``seat``).

    ``seat`` is the seat of the phone (None when the shell knows none);
    ``call_id`` the identity the shell chose for the call out.
    """

    call_id: CallId
    channel: ChannelId
    seat: acd.SeatId | None
    dialled: str


@dataclass(frozen=True, slots=True)
class DialRequested:
    """Click-to-dial: ring ``agent``'s seat, then dial ``number`` once the agent answers.

    ``callback`` is the key of the callback entry (漏接回拨) the call works,
    ``missed_call_id`` the missed call it answers; ``visit`` the ticket id
    of the return visit (回访) the call makes; ``queue`` the queue whose
    work it is (the agent's first queue when None).  ``role`` is what the
    audit log records of the agent.
    """

    call_id: CallId
    agent: acd.AgentId
    number: str
    callback: str | None = None
    missed_call_id: str | None = None
    queue: str | None = None
    role: str = "agent"
    visit: str | None = None


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    """A playback ended: finished, stopped, or failed to start (then it never played)."""

    playback: PlaybackId


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    """A key on a channel (ARI ``ChannelDtmfReceived``)."""

    channel: ChannelId
    digit: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer started with ``StartTimer(key, at)`` is due; ``at`` echoes the armed time."""

    key: TimerKey
    at: float


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    """ARI ``RecordingStarted``."""

    name: RecordingName


@dataclass(frozen=True, slots=True)
class RecordingFinished:
    """ARI ``RecordingFinished``."""

    name: RecordingName


@dataclass(frozen=True, slots=True)
class RecordingFailed:
    """ARI ``RecordingFailed``, or the record request refused (record_dir_missing_500.jsonl)."""

    name: RecordingName
    cause: str = ""


@dataclass(frozen=True, slots=True)
class ConsulteeAnswered:
    """A transfer target's leg answered (``StasisStart``, args ``consultee,<call>,<leg>``)."""

    leg: ChannelId
    call_id: CallId


@dataclass(frozen=True, slots=True)
class TransferRequested:
    """The agent of a connected call asks for a transfer to ``target``.

    The shell resolves what the agent named (a number, a parallel line, an
    emergency service, a colleague, a queue) into ``target`` from the
    configuration; refusals come back as ``RefuseTransfer``.
    """

    call_id: CallId
    agent: acd.AgentId
    mode: transfer.Mode
    target: transfer.Target


class TransferStep(StrEnum):
    """What an agent may do with a transfer in progress."""

    JOIN = "join"  # consult -> conference
    COMPLETE = "complete"  # leave caller and target together
    CANCEL = "cancel"  # drop the target, take the caller back


@dataclass(frozen=True, slots=True)
class TransferAction:
    """The agent acts on the call's live transfer."""

    call_id: CallId
    agent: acd.AgentId
    step: TransferStep


@dataclass(frozen=True, slots=True)
class HoldRequested:
    """The agent puts the caller on hold (out of the bridge, music) or takes it back."""

    call_id: CallId
    agent: acd.AgentId
    on: bool


@dataclass(frozen=True, slots=True)
class MuteRequested:
    """The agent mutes their own leg towards the call, or unmutes it."""

    call_id: CallId
    agent: acd.AgentId
    on: bool


@dataclass(frozen=True, slots=True)
class MonitorRequested:
    """A supervisor asks to monitor a connected call from ``seat`` in ``mode``.

    Asking again changes the mode of the supervisor's session on the call.
    ``role`` is what the audit log records (``supervisor``, or an agent's role).
    """

    call_id: CallId
    supervisor: str
    role: str
    seat: acd.SeatId
    mode: transfer.MonitorMode


@dataclass(frozen=True, slots=True)
class MonitorStopped:
    """The supervisor stops monitoring the call."""

    call_id: CallId
    supervisor: str


@dataclass(frozen=True, slots=True)
class SupervisorAnswered:
    """A supervisor's seat answered (``StasisStart``, args ``supervisor,<call>,<session>``)."""

    leg: ChannelId
    call_id: CallId


@dataclass(frozen=True, slots=True)
class SnoopStarted:
    """A snoop channel entered the application (``StasisStart``, args ``snoop,<call>,<session>``)."""

    snoop: ChannelId
    call_id: CallId


AgentRequestEvent = (
    acd.AgentLogin | acd.AgentLogout | acd.AgentReady | acd.AgentPause | acd.AgentEndWrapup
)


@dataclass(frozen=True, slots=True)
class AgentRequest:
    """A toolbar request of an agent (login, logout, ready, pause, end wrap-up)."""

    request: AgentRequestEvent


@dataclass(frozen=True, slots=True)
class SeatChanged:
    """A seat's phone registered, went away or changed device state (AMI)."""

    change: acd.SeatDeviceState | acd.SeatReachability


@dataclass(frozen=True, slots=True)
class ChannelsVanished:
    """Reconciliation after a reconnect: these channels are gone, their events lost.

    ``pbx_restarted``: Asterisk restarted meanwhile; the calls end as ``pbx_restart``.
    ``end_reason``: why else the calls end when their caller's channel is among
    them (``node_lost``: the Asterisk node holding them is gone).
    """

    channels: frozenset[ChannelId]
    pbx_restarted: bool = False
    end_reason: str | None = None


@dataclass(frozen=True, slots=True)
class FoundLeg:
    """A leg of a call the shell found: an agent's (``HOTLINE_CALL_ID`` and
    ``HOTLINE_AGENT``), or a transfer's (``HOTLINE_LEG``: a party outside the
    centre or a colleague consulted; ``outside``, with no agent)."""

    channel: ChannelId
    agent: acd.AgentId
    up: bool
    outside: bool = False


@dataclass(frozen=True, slots=True)
class FoundCall:
    """A caller's channel with a picture, unknown to the switchboard, and its agent legs."""

    channel: ChannelId
    picture: str  # the HOTLINE_STATE text
    legs: tuple[FoundLeg, ...] = ()


@dataclass(frozen=True, slots=True)
class CallsFound:
    """Reconciliation found these calls of a previous process: take them back, all at once.

    Conversations are taken back before waiting callers re-enter their
    queues, so that no agent still talking is offered a call meanwhile.
    """

    calls: tuple[FoundCall, ...]


@dataclass(frozen=True, slots=True)
class StrayLegs:
    """Agent legs whose call was not found: hung up."""

    call_id: CallId
    channels: tuple[ChannelId, ...]


@dataclass(frozen=True, slots=True)
class ConfigLoaded:
    """A new configuration: new calls take ``flow``; the ACD applies ``acd`` live."""

    flow: FlowConfig
    acd: acd.AcdConfig


@dataclass(frozen=True, slots=True)
class VisitDue:
    """The dialler claimed an automatic return visit (回访): call the citizen now.

    ``call_id`` is the identity the shell chose for the call; ``attempt`` is
    1 for the first call of the visit.  The visit is ``calling`` in the store
    until the switchboard's ``RecordVisitResult`` for it.
    """

    call_id: CallId
    ticket_id: str
    number: str
    survey: str
    summary: str = ""
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class DayRolled:
    """Local midnight: the ACD's "today" restarts."""


Event = (
    CallerArrived
    | RedirectingRead
    | ChannelLeft
    | LegDialed
    | OriginateFailed
    | AgentLegAnswered
    | OutboundAnswered
    | SeatDialled
    | DialRequested
    | PlaybackFinished
    | DtmfReceived
    | TimerFired
    | RecordingStarted
    | RecordingFinished
    | RecordingFailed
    | ConsulteeAnswered
    | TransferRequested
    | TransferAction
    | HoldRequested
    | MuteRequested
    | MonitorRequested
    | MonitorStopped
    | SupervisorAnswered
    | SnoopStarted
    | AgentRequest
    | SeatChanged
    | ChannelsVanished
    | CallsFound
    | StrayLegs
    | ConfigLoaded
    | VisitDue
    | DayRolled
)
