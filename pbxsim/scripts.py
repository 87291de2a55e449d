"""Scripts for the simulated peers: callers, agent phones and remote parties.

The same scripts drive the tests, the demo and the load benchmark, so each has
a dataclass form (for Python) and a plain dict / JSON form (for ``--scenario``
files and the ``/sim`` control API).  ``from_dict`` rejects unknown keys so a
typo in a scenario file fails loudly instead of being ignored.

All times are in simulated seconds; pbxsim multiplies them by its
``time_scale`` before waiting.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import ScriptError

# Diversion reasons (RFC 5806) as chan_pjsip maps them to REDIRECTING(reason).
DIVERSION_REASONS: dict[str, str] = {
    "unknown": "unknown",
    "user-busy": "cfb",
    "no-answer": "cfnr",
    "unavailable": "unavailable",
    "unconditional": "cfu",
    "time-of-day": "time_of_day",
    "do-not-disturb": "dnd",
    "deflection": "cd",
    "follow-me": "follow_me",
    "out-of-service": "out_of_order",
    "away": "away",
}


@dataclass(frozen=True)
class DigitPress:
    """Digits the caller keys, ``at`` seconds after the call is answered.

    With ``on_media`` (a media URI such as ``sound:ivr-menu``), ``at`` counts
    from the moment that media starts playing to the caller instead.
    """

    at: float
    digits: str
    on_media: str | None = None
    duration_ms: int = 160
    gap: float = 0.25

    def __post_init__(self) -> None:
        if not self.digits or any(d not in "0123456789*#ABCD" for d in self.digits):
            raise ScriptError("digits", f"not DTMF digits: {self.digits!r}")
        if self.at < 0:
            raise ScriptError("at", "must not be negative")


@dataclass(frozen=True)
class CallerScript:
    """A citizen calling in over the carrier trunk.

    The call enters Stasis as the dialplan ``Stasis(hotline,inbound,${EXTEN})``
    does, with ``dialled`` as the extension.  ``redirecting_from`` models a
    carrier-forwarded call (``Diversion: <sip:85098110@...>;reason=...``).
    Hang-up timers: ``hangup_after`` counts from arrival, ``hangup_after_answer``
    from the answer, ``hangup_after_bridged`` from the first time the caller
    shares a bridge with another party.  With none of them the caller stays on
    the line until told (``PbxSim.hangup_call``) or hung up by the engine.
    """

    number: str
    dialled: str = "12345"
    name: str = ""
    redirecting_from: str | None = None
    redirecting_reason: str = "unconditional"
    digits: tuple[DigitPress, ...] = ()
    start_after: float = 0.0
    hangup_after: float | None = None
    hangup_after_answer: float | None = None
    hangup_after_bridged: float | None = None
    trunk: str = "carrier"

    def __post_init__(self) -> None:
        if not self.number:
            raise ScriptError("number", "a caller needs a number")
        if self.redirecting_reason not in DIVERSION_REASONS:
            raise ScriptError("redirecting_reason", f"unknown {self.redirecting_reason!r}")
        object.__setattr__(self, "digits", tuple(_digit(d) for d in self.digits))


@dataclass(frozen=True)
class PhoneScript:
    """An agent's SIP phone (a PJSIP endpoint such as ``8001``).

    ``answer_after`` None means the phone rings and is never answered;
    ``reject`` answers every call with ``486 Busy Here``; ``ring`` False means
    no ``180 Ringing`` is sent (the leg stays ``Down`` until it answers or the
    originate times out).  ``hangup_after`` counts from the answer.
    ``busy_outside`` is a phone in use on a call that did not come through the
    engine: ``DeviceStateChange`` INUSE, and new calls are refused busy.
    ``static_contact`` is a phone reached through a contact configured in
    pjsip.conf: always dialable, never registering, absent from
    ``PJSIPShowContacts`` (the agent phone 8001 of the transcripts).
    """

    endpoint: str
    registered: bool = True
    static_contact: bool = False
    answer_after: float | None = 0.5
    ring: bool = True
    reject: bool = False
    hangup_after: float | None = None
    busy_outside: bool = False
    user_agent: str = "MicroSIP/3.21.3"
    contact_host: str = "127.0.0.2"
    contact_port: int = 5090

    def __post_init__(self) -> None:
        if not self.endpoint or "/" in self.endpoint:
            raise ScriptError("endpoint", f"not a PJSIP endpoint name: {self.endpoint!r}")


@dataclass(frozen=True)
class RemoteScript:
    """A party behind a trunk: a parallel hotline (12319) or an emergency line (110).

    Reached by originating to ``PJSIP/<number>@<trunk>``.  ``early_media`` names
    what the far end plays before it answers (a ``183 Session Progress``:
    ``Dial`` PROGRESS after RINGING).
    """

    number: str
    trunk: str = "carrier"
    answer_after: float | None = 1.0
    busy: bool = False
    hangup_after: float | None = None
    name: str = ""
    early_media: str | None = None
    digits: tuple[DigitPress, ...] = ()
    """Keys the far end presses once it answered (a citizen called back answering a survey)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "digits", tuple(_digit(d) for d in self.digits))


@dataclass(frozen=True)
class Scenario:
    """A world to build and traffic to play: phones, remotes, callers, media durations."""

    phones: tuple[PhoneScript, ...] = ()
    remotes: tuple[RemoteScript, ...] = ()
    callers: tuple[CallerScript, ...] = ()
    sound_durations: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        _reject_unknown("scenario", data, {f.name for f in dataclasses.fields(cls)})
        return cls(
            phones=tuple(from_dict(PhoneScript, p) for p in data.get("phones", ())),
            remotes=tuple(from_dict(RemoteScript, r) for r in data.get("remotes", ())),
            callers=tuple(from_dict(CallerScript, c) for c in data.get("callers", ())),
            sound_durations={str(k): float(v) for k, v in data.get("sound_durations", {}).items()},
        )

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Read a JSON scenario file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ScriptError(str(path), f"cannot read scenario: {exc}") from exc
        if not isinstance(data, dict):
            raise ScriptError(str(path), "a scenario is a JSON object")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "phones": [to_dict(p) for p in self.phones],
            "remotes": [to_dict(r) for r in self.remotes],
            "callers": [to_dict(c) for c in self.callers],
            "sound_durations": dict(self.sound_durations),
        }


T = TypeVar("T", CallerScript, PhoneScript, RemoteScript, DigitPress)


def _reject_unknown(where: str, data: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ScriptError(where, f"unknown keys {unknown}")


def _digit(value: Any) -> DigitPress:
    if isinstance(value, DigitPress):
        return value
    if isinstance(value, Mapping):
        return from_dict(DigitPress, value)
    raise ScriptError("digits", f"expected {{'at': ..., 'digits': ...}}, got {value!r}")


def from_dict(kind: type[T], data: Mapping[str, Any]) -> T:
    """Build a script from its dict form, rejecting unknown keys."""
    if not isinstance(data, Mapping):
        raise ScriptError(kind.__name__, f"expected an object, got {data!r}")
    _reject_unknown(kind.__name__, data, {f.name for f in dataclasses.fields(kind)})
    values = dict(data)
    if kind is CallerScript and "digits" in values:
        values["digits"] = tuple(_digit(d) for d in values["digits"])
    try:
        return kind(**values)
    except TypeError as exc:
        raise ScriptError(kind.__name__, str(exc)) from exc


def to_dict(script: CallerScript | PhoneScript | RemoteScript | DigitPress) -> dict[str, Any]:
    """The dict form of a script (JSON-serialisable)."""
    data = dataclasses.asdict(script)
    if isinstance(script, CallerScript):
        data["digits"] = [dataclasses.asdict(d) for d in script.digits]
    return data
