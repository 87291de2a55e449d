"""The IVR: menus as data, their interpreter, time conditions, holidays and the survey.

Pure: no ``async``, no sockets, no clock. The engine feeds events with the
current time and executes the commands it gets back. Import from here, and
the YAML models and node types from ``ivr.spec``.

- Models of the YAML files (``ivr.spec``): ``MenuSet`` (menus.yaml), ``Calendar``
  (calendar.yaml), ``Survey`` (survey.yaml), each with ``references()``.
- ``IvrSession``: one caller in the menus. ``SurveySession``: one rating.
- Events: ``PlaybackFinished``, ``Digit``, ``Timeout``, ``CallerHangup``.
- Commands: ``Play``, ``StopPlayback``, ``StartTimer``, ``CancelTimer``,
  ``SetTag``, ``SetVar``, ``SetLanguage``, ``EnterQueue``, ``RecordVoicemail``,
  ``TransferToNumber``, ``Hangup``, ``Finished``, ``Rated``, ``NotRated``.
"""

from ivr.calendar import Holiday, WeeklyHours
from ivr.errors import (
    CalendarError,
    IllegalTransition,
    IvrError,
    MenuLoopError,
    SnapshotError,
    UnknownMenu,
)
from ivr.ids import LanguageCode, MenuId, NodeId, PlaybackId, PromptId, QueueId, TimerId
from ivr.protocol import (
    CallerHangup,
    CancelTimer,
    Command,
    Digit,
    EnterQueue,
    Event,
    Finished,
    Hangup,
    NotRated,
    NotRatedReason,
    Outcome,
    Path,
    PathStep,
    Play,
    PlaybackFinished,
    Rated,
    RecordVoicemail,
    SetLanguage,
    SetTag,
    SetVar,
    StartTimer,
    StepResult,
    StopPlayback,
    Timeout,
    TransferToNumber,
)
from ivr.session import IvrPhase, IvrSession
from ivr.spec import Calendar, Menu, MenuSet, Survey, SurveyLevel
from ivr.survey import SurveySession

__all__ = [
    "Calendar",
    "CalendarError",
    "CallerHangup",
    "CancelTimer",
    "Command",
    "Digit",
    "EnterQueue",
    "Event",
    "Finished",
    "Hangup",
    "Holiday",
    "IllegalTransition",
    "IvrError",
    "IvrPhase",
    "IvrSession",
    "LanguageCode",
    "Menu",
    "MenuId",
    "MenuLoopError",
    "MenuSet",
    "NodeId",
    "NotRated",
    "NotRatedReason",
    "Outcome",
    "Path",
    "PathStep",
    "Play",
    "PlaybackFinished",
    "PlaybackId",
    "PromptId",
    "QueueId",
    "Rated",
    "RecordVoicemail",
    "SetLanguage",
    "SetTag",
    "SetVar",
    "SnapshotError",
    "StartTimer",
    "StepResult",
    "StopPlayback",
    "Survey",
    "SurveyLevel",
    "SurveySession",
    "Timeout",
    "TimerId",
    "TransferToNumber",
    "UnknownMenu",
    "WeeklyHours",
]
