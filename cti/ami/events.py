"""Typed views of the AMI events the engine uses.

Each class reads its fields from an :class:`~cti.ami.frames.AmiMessage` and
keeps the message itself, so no header is lost.  :func:`typed_event` picks the
class by event name and leaves any other event as the plain message.

Field names follow the headers of Asterisk 22 as recorded in
``ami_agent_register_unregister.jsonl`` and ``inbound_answer_bridge_record.jsonl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from cti.ami.frames import AmiMessage


@dataclass(frozen=True, slots=True)
class ContactStatus:
    """A PJSIP contact was created, reached, lost or removed (a phone's
    registration): ``status`` is ``Created``, ``Reachable``, ``Unreachable``,
    ``NonQualified``, ``Removed``..."""

    NAME: ClassVar[str] = "ContactStatus"
    uri: str
    status: str
    aor: str
    endpoint: str
    message: AmiMessage

    @classmethod
    def from_message(cls, message: AmiMessage) -> ContactStatus:
        return cls(
            uri=message.get("URI"),
            status=message.get("ContactStatus"),
            aor=message.get("AOR"),
            endpoint=message.get("EndpointName"),
            message=message,
        )


@dataclass(frozen=True, slots=True)
class DeviceStateChange:
    """A device's state: ``NOT_INUSE``, ``INUSE``, ``RINGING``, ``UNAVAILABLE``..."""

    NAME: ClassVar[str] = "DeviceStateChange"
    device: str
    state: str
    message: AmiMessage

    @classmethod
    def from_message(cls, message: AmiMessage) -> DeviceStateChange:
        return cls(device=message.get("Device"), state=message.get("State"), message=message)


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """An endpoint became ``Reachable``/``Unreachable`` (``peer`` is ``PJSIP/8002``)."""

    NAME: ClassVar[str] = "PeerStatus"
    channel_type: str
    peer: str
    status: str
    message: AmiMessage

    @classmethod
    def from_message(cls, message: AmiMessage) -> PeerStatus:
        return cls(
            channel_type=message.get("ChannelType"),
            peer=message.get("Peer"),
            status=message.get("PeerStatus"),
            message=message,
        )


@dataclass(frozen=True, slots=True)
class FullyBooted:
    """Asterisk is ready; also the first event after every login, and the sign
    of a restart when ``uptime`` went down."""

    NAME: ClassVar[str] = "FullyBooted"
    status: str
    uptime: int | None
    last_reload: int | None
    message: AmiMessage

    @classmethod
    def from_message(cls, message: AmiMessage) -> FullyBooted:
        return cls(
            status=message.get("Status"),
            uptime=_int_or_none(message.get("Uptime")),
            last_reload=_int_or_none(message.get("LastReload")),
            message=message,
        )


@dataclass(frozen=True, slots=True)
class Newchannel:
    """A channel was created; ``uniqueid`` equals the ARI channel id."""

    NAME: ClassVar[str] = "Newchannel"
    channel: str
    uniqueid: str
    linkedid: str
    state_desc: str
    caller_id_num: str
    caller_id_name: str
    context: str
    exten: str
    message: AmiMessage

    @classmethod
    def from_message(cls, message: AmiMessage) -> Newchannel:
        return cls(
            channel=message.get("Channel"),
            uniqueid=message.get("Uniqueid"),
            linkedid=message.get("Linkedid"),
            state_desc=message.get("ChannelStateDesc"),
            caller_id_num=message.get("CallerIDNum"),
            caller_id_name=message.get("CallerIDName"),
            context=message.get("Context"),
            exten=message.get("Exten"),
            message=message,
        )


@dataclass(frozen=True, slots=True)
class Hangup:
    """A channel hung up; ``cause`` is the Q.850 cause (16 normal, 17 busy,
    19 no answer)."""

    NAME: ClassVar[str] = "Hangup"
    channel: str
    uniqueid: str
    linkedid: str
    cause: int | None
    cause_txt: str
    caller_id_num: str
    caller_id_name: str
    message: AmiMessage

    @classmethod
    def from_message(cls, message: AmiMessage) -> Hangup:
        return cls(
            channel=message.get("Channel"),
            uniqueid=message.get("Uniqueid"),
            linkedid=message.get("Linkedid"),
            cause=_int_or_none(message.get("Cause")),
            cause_txt=message.get("Cause-txt"),
            caller_id_num=message.get("CallerIDNum"),
            caller_id_name=message.get("CallerIDName"),
            message=message,
        )


@dataclass(frozen=True, slots=True)
class OriginateResponse:
    """The outcome of an asynchronous ``Originate``: ``response`` is
    ``Success`` or ``Failure``; ``action_id`` is the one the action carried."""

    NAME: ClassVar[str] = "OriginateResponse"
    action_id: str
    response: str
    channel: str
    uniqueid: str
    reason: int | None
    caller_id_num: str
    caller_id_name: str
    message: AmiMessage

    @property
    def success(self) -> bool:
        return self.response.lower() == "success"

    @classmethod
    def from_message(cls, message: AmiMessage) -> OriginateResponse:
        return cls(
            action_id=message.action_id or "",
            response=message.get("Response"),
            channel=message.get("Channel"),
            uniqueid=message.get("Uniqueid"),
            reason=_int_or_none(message.get("Reason")),
            caller_id_num=message.get("CallerIDNum"),
            caller_id_name=message.get("CallerIDName"),
            message=message,
        )


AmiEvent = (
    ContactStatus
    | DeviceStateChange
    | PeerStatus
    | FullyBooted
    | Newchannel
    | Hangup
    | OriginateResponse
    | AmiMessage
)
"""What subscribers receive: a typed event, or the message for any other event."""


_TypedEvent = (
    ContactStatus
    | DeviceStateChange
    | PeerStatus
    | FullyBooted
    | Newchannel
    | Hangup
    | OriginateResponse
)
TYPED_EVENTS: tuple[type[_TypedEvent], ...] = (
    ContactStatus,
    DeviceStateChange,
    PeerStatus,
    FullyBooted,
    Newchannel,
    Hangup,
    OriginateResponse,
)
_BY_NAME: dict[str, type[_TypedEvent]] = {cls.NAME.lower(): cls for cls in TYPED_EVENTS}


def typed_event(message: AmiMessage) -> AmiEvent:
    """The typed view of ``message`` when its event is one the engine uses,
    else ``message`` itself.  Never raises."""
    cls = _BY_NAME.get(message.get("Event").lower())
    if cls is None:
        return message
    return cls.from_message(message)


def _int_or_none(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None
