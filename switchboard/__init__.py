"""The switchboard: every inbound call decided as a pure state machine.

Theory of operation
-------------------
``Switchboard.handle(event, now) -> list[Command]`` is the whole interface,
as for the ACD.  The shell (``cti``) translates ARI/AMI events, the results
of its own requests, its timers and the agents' toolbar requests into
:mod:`switchboard.events`, and carries out :mod:`switchboard.commands` in
order, over ARI, AMI, the writer and the API fan-out.  The switchboard never
awaits, never reads a clock, never touches a socket or the database;
``now`` is epoch seconds.  The same decisions therefore run over sockets,
inside a property test and in a simulated day (:mod:`switchboard.sim`).

**One object per call.**  An :class:`InboundCall` owns everything about its
call: its phase (the table in :mod:`switchboard.phases`; an illegal move
raises), its configuration snapshot (:class:`FlowConfig`, taken at arrival),
its route steps, its menu and survey sessions (:mod:`ivr`), its playbacks
and timers, its offers and agent legs, and its final record.  The
:class:`Switchboard` only routes: an event to the call that owns the
channel, playback or timer; the call's events for the ACD into
:class:`acd.Acd`; the ACD's commands about a call back to that call, the
rest (agent states, refusals, the ACD's timers) out as commands.

**Time.**  Every deadline is a ``StartTimer(key, at)``; the shell answers
``TimerFired(key, at)``.  A firing whose ``at`` is not the armed one is
stale.  A call's own timers (menu input, survey answer, hang-up guards) are
cancelled when it ends.

**Speed.**  The route is decided from the arrival event alone (the
redirecting number rides in it), so the agent's originate is the first
command of the arrival's decision; the call id and other bookkeeping go
after it or ride in the originate's variables.

**What is in.**  The inbound call end to end:

- routing: the main number, a merged line in transition or after cut-over,
  a forwarded call taking the route of the number it was forwarded from, an
  unknown number, a closed route by the calendar; the announcement
  (skippable) and the recording notice; the menu;
- the queue: music on hold, position announcements, offers (originate,
  answered, busy, no answer, failed, ring-no-answer and re-offer, ring-all),
  the bridge and its recording, overflow (another queue, voicemail, prompt
  and hang-up, the callback list);
- the end: the caller abandoning at any point, the agent hanging up, the
  survey and its rating, one final record with the rating and the ticket;
- transfers as part of the call (:class:`CallTransfers` carrying out
  :mod:`transfer` plans: blind, attended, three-way; to a number, a
  parallel line, an emergency service that pre-empts a transfer in
  progress, a colleague who takes the call over, another queue; back to the
  queue when a blind transfer fails); hold and mute (:class:`AgentControls`);
  supervisors listening, whispering and barging in (:class:`CallMonitors`
  carrying out :class:`transfer.MonitorPlan` sessions, each request audited);
- agent requests and seat states through the ACD; channels vanished while
  the link was down (an Asterisk restart ends calls as ``pbx_restart``); a
  configuration reload (new calls only); calls taken back after a restart
  (:mod:`switchboard.adoption`) from the picture each call keeps on its
  caller's channel (``HOTLINE_STATE``, :class:`CallPicture`).

**The shell's part.**  :mod:`cti.executor` carries out the commands and
feeds every result back; it also resolves what an agent or a supervisor
asks for from the configuration (the switchboard receives a resolved
:class:`transfer.Target`, a seat) and reads the agents' last states from
the database after a restart (the switchboard receives their logins).
"""

from switchboard.board import Figures, Switchboard
from switchboard.callstate import CallFacts, Offer, OfferOutcome
from switchboard.commands import (
    AddCallback,
    AddToBridge,
    Answer,
    CancelTimer,
    Command,
    CreateBridge,
    CreateSnoop,
    DestroyBridge,
    DialOut,
    HangUp,
    MuteChannel,
    OriginateAgent,
    OriginateConsultee,
    OriginateSupervisor,
    Play,
    PublishAgentState,
    ReadRedirecting,
    RecordBridge,
    RecordChannel,
    RecordVisitResult,
    RefuseRequest,
    RefuseTransfer,
    RemoveFromBridge,
    SendDigits,
    SetChannelVar,
    StartMoh,
    StartTimer,
    StopMoh,
    StopPlayback,
    TransferNotice,
    WriteAudit,
    WriteCall,
    WriteFinal,
    WriteTimeline,
)
from switchboard.config import FlowConfig, QueueMedia, RouteKind, RoutePlan, Router, VisitFlow
from switchboard.controls import AgentControls
from switchboard.events import (
    AgentLegAnswered,
    AgentRequest,
    CallerArrived,
    CallsFound,
    ChannelLeft,
    ChannelsVanished,
    ConfigLoaded,
    ConsulteeAnswered,
    DayRolled,
    DialStatus,
    DtmfReceived,
    Event,
    FoundCall,
    FoundLeg,
    HoldRequested,
    LegDialed,
    MonitorRequested,
    MonitorStopped,
    MuteRequested,
    OriginateFailed,
    OutboundAnswered,
    PlaybackFinished,
    RecordingFailed,
    RecordingFinished,
    RecordingStarted,
    RedirectingRead,
    SeatChanged,
    SnoopStarted,
    StrayLegs,
    SupervisorAnswered,
    TimerFired,
    TransferAction,
    TransferRequested,
    TransferStep,
    VisitDue,
)
from switchboard.ids import BridgeId, CallId, ChannelId, PlaybackId, RecordingName
from switchboard.inbound import InboundCall
from switchboard.monitors import CallMonitors
from switchboard.phases import (
    PUBLIC_STATE,
    TRANSITIONS,
    CallPhase,
    IllegalTransition,
    SwitchboardError,
)
from switchboard.picture import STATE_VAR, CallPicture, PictureError
from switchboard.records import CallRecord, MenuStep, RatingRecord, Ticket
from switchboard.revisit import VisitCall, VisitPhase
from switchboard.revisits import Revisits
from switchboard.timers import CallTimer, CallTimerKind, TimerKey
from switchboard.transfers import CallTransfers

__all__ = [
    "PUBLIC_STATE",
    "STATE_VAR",
    "TRANSITIONS",
    "AddCallback",
    "AddToBridge",
    "AgentControls",
    "AgentLegAnswered",
    "AgentRequest",
    "Answer",
    "BridgeId",
    "CallFacts",
    "CallId",
    "CallMonitors",
    "CallPhase",
    "CallPicture",
    "CallRecord",
    "CallTimer",
    "CallTimerKind",
    "CallTransfers",
    "CallerArrived",
    "CallsFound",
    "CancelTimer",
    "ChannelId",
    "ChannelLeft",
    "ChannelsVanished",
    "Command",
    "ConfigLoaded",
    "ConsulteeAnswered",
    "CreateBridge",
    "CreateSnoop",
    "DayRolled",
    "DestroyBridge",
    "DialOut",
    "DialStatus",
    "DtmfReceived",
    "Event",
    "Figures",
    "FlowConfig",
    "FoundCall",
    "FoundLeg",
    "HangUp",
    "HoldRequested",
    "IllegalTransition",
    "InboundCall",
    "LegDialed",
    "MenuStep",
    "MonitorRequested",
    "MonitorStopped",
    "MuteChannel",
    "MuteRequested",
    "Offer",
    "OfferOutcome",
    "OriginateAgent",
    "OriginateConsultee",
    "OriginateFailed",
    "OriginateSupervisor",
    "OutboundAnswered",
    "PictureError",
    "Play",
    "PlaybackFinished",
    "PlaybackId",
    "PublishAgentState",
    "QueueMedia",
    "RatingRecord",
    "ReadRedirecting",
    "RecordBridge",
    "RecordChannel",
    "RecordVisitResult",
    "RecordingFailed",
    "RecordingFinished",
    "RecordingName",
    "RecordingStarted",
    "RedirectingRead",
    "RefuseRequest",
    "RefuseTransfer",
    "RemoveFromBridge",
    "Revisits",
    "RouteKind",
    "RoutePlan",
    "Router",
    "SeatChanged",
    "SendDigits",
    "SetChannelVar",
    "SnoopStarted",
    "StartMoh",
    "StartTimer",
    "StopMoh",
    "StopPlayback",
    "StrayLegs",
    "SupervisorAnswered",
    "Switchboard",
    "SwitchboardError",
    "Ticket",
    "TimerFired",
    "TimerKey",
    "TransferAction",
    "TransferNotice",
    "TransferRequested",
    "TransferStep",
    "VisitCall",
    "VisitDue",
    "VisitFlow",
    "VisitPhase",
    "WriteAudit",
    "WriteCall",
    "WriteFinal",
    "WriteTimeline",
]
