"""SimConfig: everything pbxsim needs to know before it starts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .scripts import PhoneScript, RemoteScript


@dataclass
class SimConfig:
    """The simulated Asterisk's settings.

    Ports 0 pick free ports (read them back from ``PbxSim.ari_port`` and
    ``PbxSim.ami_port`` after ``start``).  ``time_scale`` multiplies every
    simulated duration (prompts, ring times, timeouts): 0.01 runs a 2 s prompt
    in 20 ms.  ``recordings_dir`` None means a private temporary directory.
    ``app`` is the application pbxsim's own control API names by default.
    ``dialplan`` is the extensions.conf pbxsim runs (None: the shipped
    ``asterisk-conf/extensions.conf``); a call from the carrier enters it at
    ``carrier_context``, a call an agent dials from a seat phone at
    ``seat_context``.  ``channelvars`` is ``ari.conf``'s ``[general]
    channelvars``: variables and functions shown in every channel's JSON.
    ``keep_history`` False stops recording requests, events, AMI frames and the
    logs of finished channels (for long load runs).  ``ami_eventfilter`` holds
    ``manager.conf`` ``eventfilter`` values in their regular-expression form
    (``Event: DeviceStateChange``; a leading ``!`` excludes): with any, a manager
    event reaches a session only as Asterisk's filters let it (see
    :func:`pbxsim.ami.event_passes`); answers to actions are never filtered.
    """

    user: str = "asterisk"
    secret: str = ""
    host: str = "127.0.0.1"
    ari_port: int = 0
    ami_port: int = 0
    app: str = "hotline"
    time_scale: float = 1.0
    recordings_dir: Path | None = None
    asterisk_id: str = "02:fc:00:00:00:01"
    version: str = "22.10.1"
    system_name: str = "pbxsim"
    # As Asterisk with ``systemname`` set in asterisk.conf: unique ids (channel
    # ids) read ``SYSTEMNAME-epoch.seq``, so that several nodes never share one.
    system_name_in_ids: bool = False
    default_sound_duration: float = 2.0
    sound_durations: Mapping[str, float] = field(default_factory=dict)
    carrier_trunks: tuple[str, ...] = ("carrier",)
    carrier_context: str = "from-carrier"
    agent_context: str = "from-agents"
    seat_context: str = "from-seats"
    dialplan: Path | None = None
    channelvars: tuple[str, ...] = ()
    originate_timeout: float = 30.0
    create_entry_delay: float = 0.0
    """How long a created channel (``POST /channels/create``) takes to enter the
    application after the ``200``: Asterisk 22 answers the create before the
    channel has entered Stasis, and refuses a dial in between (``409 Channel not
    in Stasis application``).  0 enters at once, after the reply."""
    phones: tuple[PhoneScript, ...] = ()
    remotes: tuple[RemoteScript, ...] = ()
    default_remote: RemoteScript | None = field(
        default_factory=lambda: RemoteScript(number="*", answer_after=1.0)
    )
    keep_history: bool = True
    ami_split_writes: bool = False
    ami_split_pause: float = 0.002
    ami_eventfilter: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        for expression in self.ami_eventfilter:
            try:
                re.compile(expression.removeprefix("!"))
            except re.error as exc:
                raise ValueError(f"ami_eventfilter {expression!r}: {exc}") from None
        if self.recordings_dir is not None:
            self.recordings_dir = Path(self.recordings_dir)
        if self.dialplan is not None:
            self.dialplan = Path(self.dialplan)
