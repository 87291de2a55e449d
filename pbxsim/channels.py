"""Channel life: creation, Stasis, answer, variables, snoop, hang-up.

Hang-up event order (transcripts ``inbound_answer_bridge_record``,
``caller_abandons_while_agent_rings``, ``agent_busy_486``, ``agent_no_answer``):

1. an answered PJSIP channel first reports its RTP statistics as
   ``RTPAUDIOQOS*`` variables (its two-party bridge peer gets the same values
   as ``RTPAUDIOQOS*BRIDGED``, interleaved);
2. ``ChannelHangupRequest``: ``{cause: 32, soft: true}`` for ``DELETE``,
   ``{}`` when the far end hangs up, ``{cause: 17, tech_cause: 486}`` for busy;
3. a leg that never answered gets ``Dial`` NOANSWER (or BUSY);
4. the bridge is left (``BRIDGEPEER``/``BRIDGEPVTCALLID`` cleared, then
   ``ChannelLeftBridge``), then ``StasisEnd``;
5. only an application that originated the channel also sees
   ``ChannelVarset STASISSTATUS=SUCCESS`` and ``ChannelDestroyed`` (with the
   dialplan back at ``AppDial2``).  A leg that timed out gets nothing but
   ``ChannelDestroyed`` cause 19 (tech_cause 480).
"""

from __future__ import annotations

from typing import Any

from .errors import AriError
from .model import CAUSE_TEXT, Channel, ChannelLog, Dialplan, Kind, Party, iso_timestamp
from .scripts import DIVERSION_REASONS, CallerScript
from .variables import VariableOps

_STATE_INVALID = ("Down", "Rsrved", "Ringing")


def parse_caller_id(value: str) -> Party:
    """``"Name" <number>``, ``Name <number>`` or a bare number."""
    value = value.strip()
    if "<" in value and value.endswith(">"):
        name, _, number = value[:-1].partition("<")
        return Party(name.strip().strip('"'), number.strip())
    return Party("", value)


class ChannelOps(VariableOps):
    # -- lookups -------------------------------------------------------------

    def channel(self, channel_id: str) -> Channel:
        """Any channel (404 ``Channel not found``)."""
        found = self.channels.get(channel_id)
        if found is None:
            raise AriError(404, "Channel not found")
        return found

    def controlled(self, channel_id: str, *, state_matters: bool = True) -> Channel:
        """A channel in Stasis, as ARI's ``find_control`` and ``channel_state_invalid`` want."""
        found = self.channel(channel_id)
        if found.app is None:
            raise AriError(409, "Channel not in Stasis application")
        if state_matters and found.state in _STATE_INVALID:
            raise AriError(412, "Channel in invalid state")
        return found

    def find_control(self, channel_id: str) -> Channel:
        """A channel in Stasis, in any state (ARI's ``find_control`` alone)."""
        return self.controlled(channel_id, state_matters=False)

    def channel_by_name(self, name: str) -> Channel | None:
        return next((c for c in self.channels.values() if c.name == name), None)

    # -- creation --------------------------------------------------------------

    def new_channel(
        self,
        *,
        channel_id: str | None,
        name: str,
        kind: Kind,
        endpoint: str | None,
        state: str,
        caller: Party,
        connected: Party,
        dialplan: Dialplan,
        dialstring: str = "",
        protocol_id: str | None = None,
    ) -> Channel:
        ident = channel_id or self.new_unique_id()
        log = ChannelLog(ident, name, endpoint, kind, states=[state])
        channel = Channel(
            id=ident,
            name=name,
            state=state,
            protocol_id=self.new_call_id() if protocol_id is None else protocol_id,
            caller=caller,
            connected=connected,
            dialplan=dialplan,
            creationtime=iso_timestamp(),
            kind=kind,
            endpoint=endpoint,
            dialstring=dialstring,
            log=log,
            created_at=self.now(),
            channelvars=self.config.channelvars,
        )
        self.channels[ident] = channel
        self.logs[ident] = log
        self.ami("Newchannel", "call,all", self.ami_channel(channel))
        self.refresh_device(endpoint)
        return channel

    def inbound_call(
        self, script: CallerScript, call_id: str, context: str | None = None
    ) -> Channel:
        """A call from the carrier trunk reaching ``Stasis(app,inbound,${EXTEN})``.

        With ``context`` the call enters the dialplan there instead (a seat
        phone's call: ``script.trunk`` names the phone).
        """
        context = context or self.config.carrier_context
        channel = self.new_channel(
            channel_id=None,
            name=self.new_pjsip_name(script.trunk),
            kind=Kind.CALLER,
            endpoint=script.trunk,
            state="Ring",
            caller=Party(script.name, script.number),
            connected=Party(),
            dialplan=Dialplan(context, script.dialled, 1, "NoOp", f"inbound {script.dialled}"),
            protocol_id=f"1-{self.random.randint(10000, 99999)}@{self.config.host}",
        )
        channel.script = script
        channel.call_id = call_id
        if script.redirecting_from:
            channel.redirecting = {
                "from-num": script.redirecting_from,
                "reason": DIVERSION_REASONS[script.redirecting_reason],
                "orig-num": "",
                "count": "1",
            }
        self.set_var(channel, "SIPDOMAIN", self.config.host, report=False)
        self.run_dialplan(channel, context, script.dialled)
        return channel

    def run_dialplan(self, channel: Channel, context: str, exten: str, priority: int = 1) -> None:
        raise NotImplementedError  # the dialplan mixin runs it

    # -- Stasis ----------------------------------------------------------------

    def enter_stasis(self, channel: Channel, app_name: str, args: list[str]) -> bool:
        """``StasisStart`` if the application is connected; otherwise Stasis() fails
        (``STASISSTATUS=FAILED``) and False is returned: the caller decides what next."""
        app = self.apps.get(app_name)
        data = ",".join([app_name, *args])
        if channel.dialplan.app_name != "Stasis":
            channel.outside_dialplan = channel.dialplan
            channel.dialplan = Dialplan(
                channel.dialplan.context,
                channel.dialplan.exten,
                channel.dialplan.priority,
                "Stasis",
                data,
            )
        self.set_var(channel, "STASISSTATUS", "")
        if app is None or not app.connected:
            # Stasis() refuses an application with no WebSocket: STASISSTATUS=FAILED.
            self.set_var(channel, "STASISSTATUS", "FAILED")
            channel.log.hear("stasis_failed", app_name)
            return False
        channel.app = app_name
        channel.app_args = list(args)
        channel.log.stasis_args = list(args)
        self.emit_channel(channel, "StasisStart", args=list(args))
        self.on_stasis_start(channel)
        return True

    def leave_stasis(self, channel: Channel) -> None:
        if channel.app is None:
            return
        self.emit_channel(channel, "StasisEnd")
        channel.app = None
        self.set_var(channel, "STASISSTATUS", "SUCCESS")
        if channel.outside_dialplan is not None:
            channel.dialplan = channel.outside_dialplan
            channel.outside_dialplan = None

    def on_stasis_start(self, channel: Channel) -> None:
        """Hook for peer behaviour (overridden by the peers mixin)."""

    # -- state ---------------------------------------------------------------

    def set_state(self, channel: Channel, state: str) -> None:
        if channel.state == state:
            return
        channel.state = state
        channel.log.states.append(state)
        self.emit_channel(channel, "ChannelStateChange")
        self.ami("Newstate", "call,all", self.ami_channel(channel))
        self.refresh_device(channel.endpoint)

    def answer(self, channel: Channel) -> None:
        if channel.state == "Up":
            return
        channel.answered_at = self.now()
        channel.had_media = channel.kind not in (Kind.SNOOP, Kind.LOCAL)
        channel.ringing = False
        channel.log.answered = True
        self.set_state(channel, "Up")
        self.on_answer(channel)

    def on_answer(self, channel: Channel) -> None:
        """Hook for peer behaviour (overridden by the peers mixin)."""

    # -- hang-up ---------------------------------------------------------------

    def cancel_timers(self, channel: Channel) -> None:
        for timer in channel.timers:
            timer.cancel()
        channel.timers.clear()

    def later(self, channel: Channel, delay: float, action: Any) -> None:
        """Run ``action`` after ``delay`` simulated seconds unless the channel is gone."""

        def fire() -> None:
            if self.channels.get(channel.id) is channel:
                action()

        channel.timers.append(self.clock.call_later(delay, fire))

    def hangup(
        self,
        channel: Channel,
        *,
        cause: int = 16,
        source: str = "api",
        silent: bool = False,
    ) -> None:
        """Hang a channel up; ``source`` is api, remote, busy, timeout, dial_timeout,
        dialplan, local (the other half of a Local channel went) or restart."""
        if self.channels.get(channel.id) is not channel or "hanging_up" in channel.flags:
            return
        channel.flags.add("hanging_up")
        self.cancel_timers(channel)
        if silent:
            self.discard(channel, cause, source)
            return
        if channel.had_media and channel.state == "Up" and source in ("api", "remote"):
            self.rtp_statistics(channel)
        by_source: dict[str, list[dict[str, Any]]] = {
            "api": [{"cause": 32, "soft": True}],
            "dial_timeout": [{"cause": 32, "soft": True}],
            "remote": [{}],
            "busy": [{"cause": 17, "tech_cause": 486}],
            "local": [{"cause": cause}, {"cause": cause, "soft": True}],
        }
        for request in by_source.get(source, []):
            self.emit_channel(channel, "ChannelHangupRequest", **request)
        self.ami(
            "SoftHangupRequest" if source == "api" else "HangupRequest",
            "call,all",
            self.ami_channel(channel),
            **({"Cause": 32} if source == "api" else {}),
        )
        dialing = "stasis_dial" not in channel.flags or "dialing" in channel.flags
        if (
            channel.dialstring
            and dialing
            and not channel.log.answered
            and source in ("api", "busy")
        ):
            status = "BUSY" if source == "busy" else "NOANSWER"
            self.emit_dial(channel, status)
        self.end_media(channel)
        if channel.bridge is not None:
            self.leave_bridge(channel, hangup=True)
        self.leave_stasis(channel)
        self.run_hangup_extension(channel)
        tech_cause = {"busy": 486, "timeout": 480}.get(source)
        extra = {} if tech_cause is None else {"tech_cause": tech_cause}
        self.emit_channel(
            channel,
            "ChannelDestroyed",
            cause=cause,
            cause_txt=CAUSE_TEXT.get(cause, "Unknown"),
            **extra,
        )
        self.discard(channel, cause, source)
        self.on_hangup(channel)

    def discard(self, channel: Channel, cause: int, source: str) -> None:
        """Forget a channel, reporting AMI ``Hangup``; snoops on it go too."""
        self.channels.pop(channel.id, None)
        channel.log.hangup_cause = cause
        channel.log.hangup_by = source
        channel.log.destroyed = True
        if channel.bridge is not None:
            bridge = self.bridges.get(channel.bridge)
            if bridge is not None:
                bridge.members = [m for m in bridge.members if m.channel_id != channel.id]
            channel.bridge = None
        if channel.snoop_target is not None:
            # snoop_hangup: the spyee is named while it still exists.
            spyee = self.channels.get(channel.snoop_target)
            spying = self.ami_channel(channel, "Spyer")
            if spyee is not None:
                spying += self.ami_channel(spyee, "Spyee")
            self.ami("ChanSpyStop", "call,all", spying)
        self.ami(
            "Hangup",
            "call,all",
            self.ami_channel(channel),
            Cause=cause,
            Cause_txt=CAUSE_TEXT.get(cause, "Unknown"),
        )
        self.refresh_device(channel.endpoint)
        if not self.config.keep_history:
            self.logs.pop(channel.id, None)
        if source != "restart":
            for snoop in [c for c in self.channels.values() if c.snoop_target == channel.id]:
                self.hangup(snoop, source="remote")
        self.sink.changed()

    def on_hangup(self, channel: Channel) -> None:
        """Hook for peer behaviour (overridden by the peers mixin)."""

    def run_hangup_extension(self, channel: Channel) -> None:
        """Hook for the dialplan's ``h`` extension (overridden by the dialplan mixin)."""

    def emit_dial(self, channel: Channel, status: str) -> None:
        apps = self.channel_apps(channel)
        if apps:
            self.emit(
                apps,
                "Dial",
                dialstatus=status,
                forward="",
                # A dial the application started names its dial string once, first.
                dialstring="" if status and "stasis_dial" in channel.flags else channel.dialstring,
                peer=channel.to_json(),
            )

    # -- snoop ---------------------------------------------------------------

    def snoop(
        self,
        target: Channel,
        *,
        spy: str,
        whisper: str,
        app: str,
        args: list[str],
        snoop_id: str | None,
    ) -> Channel:
        """``POST /channels/{id}/snoop``: a ``Snoop/...`` channel entering ``app``."""
        if spy == "none" and whisper == "none":
            raise AriError(400, "Direction must be specified for at least spy or whisper")
        if snoop_id and snoop_id in self.channels:
            raise AriError(409, "Channel with given unique ID already exists")
        channel = self.new_channel(
            channel_id=snoop_id,
            name=self.new_snoop_name(target.id),
            kind=Kind.SNOOP,
            endpoint=None,
            state="Up",
            caller=Party(),
            connected=Party(),
            dialplan=Dialplan("default", "s", 1, "", ""),
            protocol_id="",
        )
        channel.snoop_target = target.id
        # res_stasis_snoop.c publishes the spying as app_chanspy would.
        spying = [*self.ami_channel(channel, "Spyer"), *self.ami_channel(target, "Spyee")]
        self.ami("ChanSpyStart", "call,all", spying)
        channel.log.hear("snoop", f"{target.id} spy={spy} whisper={whisper}")
        target.log.hear("snooped", f"{channel.id} spy={spy} whisper={whisper}")
        return channel

    def start_snoop(self, channel: Channel, target: Channel, app: str, args: list[str]) -> None:
        """After the 200: the target's bridge refreshes its peer variables, then StasisStart."""
        if target.bridge is not None and target.bridge in self.bridges:
            self.refresh_peer_vars(self.bridges[target.bridge])
        self.enter_stasis(channel, app, args)

    # Provided by other mixins.
    def leave_bridge(self, channel: Channel, *, hangup: bool = False) -> None:
        raise NotImplementedError

    def two_party_peer(self, channel: Channel) -> Channel | None:
        raise NotImplementedError

    def refresh_peer_vars(self, bridge: Any) -> None:
        raise NotImplementedError

    def end_media(self, channel: Channel) -> None:
        raise NotImplementedError
