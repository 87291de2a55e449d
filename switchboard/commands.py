"""Commands: what the switchboard asks the shell to do.

``Switchboard.handle`` returns them in the order they must be carried out.
The shell runs the requests of one call in that call's ordered lane (agent
legs in a lane of their own, so an originate never waits behind the caller's
requests) and reports every result that matters as an event: a refused
originate (``OriginateFailed``), a channel already gone (``ChannelLeft``), a
playback that could not start (``PlaybackFinished``), a refused recording
(``RecordingFailed``).  No command needs any other answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import acd
from switchboard.ids import BridgeId, CallId, ChannelId, PlaybackId, RecordingName
from switchboard.records import CallRecord, Detail, RatingRecord, Ticket
from switchboard.timers import TimerKey

# ------------------------------------------------------------------ the caller's channel


@dataclass(frozen=True, slots=True)
class Answer:
    """Answer the caller's channel."""

    call_id: CallId
    channel: ChannelId


@dataclass(frozen=True, slots=True)
class SetChannelVar:
    """Set a channel variable (``HOTLINE_CALL_ID``: a restarted engine adopts by it)."""

    call_id: CallId
    channel: ChannelId
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class ReadRedirecting:
    """Read ``REDIRECTING(from-num)``; answer with ``RedirectingRead``."""

    call_id: CallId
    channel: ChannelId


@dataclass(frozen=True, slots=True)
class Play:
    """Play ``media`` in order as one playback; report ``PlaybackFinished(playback)``.

    Each item is a prompt id (the shell resolves it in ``language``) or a
    media URI such as ``number:3``.
    """

    call_id: CallId
    channel: ChannelId
    playback: PlaybackId
    media: tuple[str, ...]
    language: str


@dataclass(frozen=True, slots=True)
class StopPlayback:
    """Stop a playback; its ``PlaybackFinished`` is then ignored."""

    call_id: CallId
    playback: PlaybackId


@dataclass(frozen=True, slots=True)
class StartMoh:
    """Start music on hold of ``moh_class`` on the channel."""

    call_id: CallId
    channel: ChannelId
    moh_class: str


@dataclass(frozen=True, slots=True)
class StopMoh:
    """Stop music on hold on the channel."""

    call_id: CallId
    channel: ChannelId


@dataclass(frozen=True, slots=True)
class RecordChannel:
    """Record the caller's channel (a voicemail, 留言) for at most ``max_s`` seconds."""

    call_id: CallId
    channel: ChannelId
    name: RecordingName
    max_s: int


@dataclass(frozen=True, slots=True)
class HangUp:
    """Hang up a channel; if it is already gone, report ``ChannelLeft`` for it."""

    call_id: CallId
    channel: ChannelId
    reason: str = "normal"


# ------------------------------------------------------------------ agent legs and bridges


@dataclass(frozen=True, slots=True)
class OriginateAgent:
    """Ring an agent: originate ``leg`` to ``endpoint`` into the application.

    ``app_args`` come back in the leg's ``StasisStart`` (``agent,<call>,<agent>``);
    ``variables`` ride on the originate, so no request precedes it.
    """

    call_id: CallId
    leg: ChannelId
    agent: acd.AgentId
    seat: acd.SeatId
    endpoint: str
    caller_id: str
    timeout_s: int
    app_args: tuple[str, ...]
    variables: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class CreateBridge:
    """Create a mixing bridge with this id."""

    call_id: CallId
    bridge: BridgeId


@dataclass(frozen=True, slots=True)
class AddToBridge:
    """Put channels into a bridge."""

    call_id: CallId
    bridge: BridgeId
    channels: tuple[ChannelId, ...]


@dataclass(frozen=True, slots=True)
class RemoveFromBridge:
    """Take a channel out of a bridge; it stays up."""

    call_id: CallId
    bridge: BridgeId
    channel: ChannelId


@dataclass(frozen=True, slots=True)
class OriginateConsultee:
    """Dial a transfer target: ``leg`` to ``dial``, into the application.

    Its ``StasisStart`` (args ``consultee,<call>,<leg>``) comes only once it
    answers (``threeway_consultee_agent_leaves.jsonl``).
    """

    call_id: CallId
    leg: ChannelId
    dial: str
    caller_id: str
    timeout_s: int
    app_args: tuple[str, ...]
    variables: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SendDigits:
    """Key DTMF ``digits`` towards a channel (the extension of a parallel line)."""

    call_id: CallId
    channel: ChannelId
    digits: str


@dataclass(frozen=True, slots=True)
class OriginateSupervisor:
    """Ring a supervisor's seat: ``leg`` to ``endpoint``, into the application."""

    call_id: CallId
    leg: ChannelId
    endpoint: str
    caller_id: str
    timeout_s: int
    app_args: tuple[str, ...]
    variables: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class DialOut:
    """Place a leg the application controls: create it into the application, then dial it.

    ``create_then_dial_answer_busy_timeout.jsonl``: the created leg is in the
    application at once (its ``StasisStart`` carries ``app_args``); the shell
    then dials it with ``timeout_s`` and reports the verdict: answered
    (``OutboundAnswered``), busy, unanswered, timed out or unreachable
    (``LegDialed``), or the create refused (``OriginateFailed``).
    ``caller_id`` (``"name" <number>`` or a number) is what the far end is
    shown; ``variables`` ride on the create.  ``originator`` is the channel
    the leg is placed for (an agent's leg), when there is one: Asterisk then
    takes its codecs and links the two in its records.
    """

    call_id: CallId
    leg: ChannelId
    endpoint: str
    caller_id: str
    timeout_s: int
    app_args: tuple[str, ...]
    variables: tuple[tuple[str, str], ...]
    originator: ChannelId | None = None


@dataclass(frozen=True, slots=True)
class CreateSnoop:
    """Snoop ``target`` into the application as channel ``snoop`` (``supervisor_snoop.jsonl``).

    ``spy`` and ``whisper`` are ARI directions (``both``, ``out``, ``none``).
    When the snoop cannot be made the shell reports ``ChannelLeft(snoop)``.
    """

    call_id: CallId
    snoop: ChannelId
    target: ChannelId
    spy: str
    whisper: str
    app_args: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MuteChannel:
    """Mute (or unmute) what a channel says to the call (ARI mute, direction ``in``)."""

    call_id: CallId
    channel: ChannelId
    on: bool


@dataclass(frozen=True, slots=True)
class DestroyBridge:
    """Destroy a bridge (the channels still in it stay up)."""

    call_id: CallId
    bridge: BridgeId


@dataclass(frozen=True, slots=True)
class RecordBridge:
    """Record a bridge as segment ``segment`` of the call (the recordings service is told)."""

    call_id: CallId
    bridge: BridgeId
    name: RecordingName
    segment: int
    agents: tuple[str, ...]


# ------------------------------------------------------------------ time


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Deliver ``TimerFired(key, at)`` once the clock reaches ``at``; re-arms ``key``."""

    key: TimerKey
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Forget the timer ``key`` if it runs."""

    key: TimerKey


# ------------------------------------------------------------------ facts


@dataclass(frozen=True, slots=True)
class WriteCall:
    """Write the call's record as it stands (an upsert; the last one wins)."""

    record: CallRecord


@dataclass(frozen=True, slots=True)
class WriteFinal:
    """The call ended: its last record, rating and ticket, in one transaction."""

    record: CallRecord
    rating: RatingRecord | None
    ticket: Ticket | None


@dataclass(frozen=True, slots=True)
class WriteTimeline:
    """One row of the call's timeline (``call_events``)."""

    call_id: CallId
    at: float
    kind: str
    agent: str | None
    detail: Detail


@dataclass(frozen=True, slots=True)
class AddCallback:
    """Put the caller on the missed-call callback list (漏接回拨)."""

    call_id: CallId
    caller_number: str
    queue: str
    at: float
    waited_s: float


@dataclass(frozen=True, slots=True)
class RecordVisitResult:
    """One automatic return-visit call's result, for the backend (through the outbox, once).

    ``outcome`` is a :class:`callbacks.Outcome` value; ``answers`` are
    (question, answer) pairs in the order asked; ``fallback`` names why the
    visit goes to the agents now (``refused``, ``no_input``, ``hung_up``,
    ``asked_for_agent``), None when the result stands as it is.  An agent's
    call for the visit that never reached the citizen's phone (the agent did
    not answer, or hung up first) has ``outcome`` ``""``: no attempt, the
    visit is offered again.
    """

    call_id: CallId
    ticket_id: str
    outcome: str
    at: float
    answers: tuple[tuple[str, str], ...] = ()
    agent: str | None = None
    recording: str | None = None
    note: str | None = None
    fallback: str | None = None
    attempts: int = 3
    """The visit's attempts by the configuration the call was made under."""


@dataclass(frozen=True, slots=True)
class PublishAgentState:
    """An agent's status or state changed: the wallboard, the toolbar, ``agent_state_changes``."""

    change: acd.AgentStateChanged
    at: float


@dataclass(frozen=True, slots=True)
class WriteAudit:
    """A row of the audit log: ``actor`` did ``action`` on ``target``."""

    at: float
    actor: str
    role: str
    action: str
    target: str
    allowed: bool
    detail: Detail


@dataclass(frozen=True, slots=True)
class TransferNotice:
    """Tell the agent who started a transfer what happened to it (``what``, ``reason``)."""

    call_id: CallId
    agent: str
    leg: ChannelId
    what: str
    reason: str


@dataclass(frozen=True, slots=True)
class RefuseTransfer:
    """A request of the agent about their call (a transfer, hold, mute) was refused.

    ``code`` names why (``not_your_call``, ``not_connected``,
    ``transfer_in_progress``, ``no_transfer``, ``no_call`` ...), ``message``
    says it in one line.
    """

    call_id: CallId
    agent: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class RefuseRequest:
    """Tell the agent's toolbar its request was refused."""

    refusal: acd.RequestRefused


Command = (
    Answer
    | SetChannelVar
    | ReadRedirecting
    | Play
    | StopPlayback
    | StartMoh
    | StopMoh
    | RecordChannel
    | HangUp
    | OriginateAgent
    | CreateBridge
    | AddToBridge
    | RemoveFromBridge
    | OriginateConsultee
    | SendDigits
    | OriginateSupervisor
    | DialOut
    | CreateSnoop
    | MuteChannel
    | DestroyBridge
    | RecordBridge
    | StartTimer
    | CancelTimer
    | WriteCall
    | WriteFinal
    | WriteTimeline
    | WriteAudit
    | AddCallback
    | RecordVisitResult
    | PublishAgentState
    | TransferNotice
    | RefuseTransfer
    | RefuseRequest
)
