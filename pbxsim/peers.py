"""The scripted far ends: callers, agent phones, remote parties; and originate.

Originated legs (transcripts ``inbound_answer_bridge_record``,
``agent_no_answer``, ``agent_busy_486``): the ``200`` carries the channel in
state ``Down``; then ``Dial`` with an empty status, ``ChannelStateChange``
Ringing and ``Dial`` RINGING when the phone rings (a trunk reports its early
ringing before the first ``Dial``), and on answer ``ChannelStateChange`` Up,
``Dial`` ANSWER, ``ChannelVarset STASISSTATUS`` and ``StasisStart``.  A busy
phone gives ``ChannelHangupRequest`` (cause 17, tech_cause 486), ``Dial`` BUSY
and ``ChannelDestroyed``; a leg nobody answers gives only ``ChannelDestroyed``
cause 19 when the originate timeout expires.  A leg never answered never gets
``StasisStart``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from .channels import parse_caller_id
from .errors import AriError
from .model import Bridge, Channel, ChannelLog, Dialplan, Kind, Party
from .pbx import DialplanOps
from .scripts import CallerScript, DigitPress, PhoneScript, RemoteScript

_RING_DELAY = 0.02  # the far end's 180 Ringing, right after the INVITE


@dataclass
class CallHandle:
    """A scripted caller's call; ``channel_id`` is set once the call arrives."""

    id: str
    script: CallerScript
    channel_id: str | None = None
    timers: list[Any] = field(default_factory=list)
    context: str | None = None  # where the call enters the dialplan (None: from the carrier)

    def __repr__(self) -> str:
        return f"<Call {self.id} {self.script.number}->{self.script.dialled} {self.channel_id}>"


@dataclass
class Origination:
    """Where an originated leg goes once it answers, and who is told."""

    app: str | None
    args: list[str]
    context: str | None = None
    exten: str | None = None
    priority: int = 1
    on_result: Any = None  # callable(channel, reason: int, answered: bool)


class PeerOps(DialplanOps):
    calls: dict[str, CallHandle]
    _call_seq: itertools.count[int]

    # -- callers ---------------------------------------------------------------

    def place_call(self, script: CallerScript) -> CallHandle:
        handle = CallHandle(f"call-{next(self._call_seq)}", script)
        self.calls[handle.id] = handle
        handle.timers.append(self.clock.call_later(script.start_after, lambda: self.arrive(handle)))
        return handle

    def place_seat_call(self, script: CallerScript) -> CallHandle:
        """An agent dials ``script.dialled`` from the seat phone ``script.trunk``.

        The call enters the dialplan at ``seat_context`` (``[from-seats]``:
        ``Stasis(hotline,seat,${EXTEN})``) from channel ``PJSIP/<phone>-...``.
        """
        handle = CallHandle(
            f"call-{next(self._call_seq)}", script, context=self.config.seat_context
        )
        self.calls[handle.id] = handle
        handle.timers.append(self.clock.call_later(script.start_after, lambda: self.arrive(handle)))
        return handle

    def arrive(self, handle: CallHandle) -> None:
        channel = self.inbound_call(handle.script, handle.id, handle.context)
        handle.channel_id = channel.id
        if handle.script.hangup_after is not None and channel.id in self.channels:
            self.later(
                channel, handle.script.hangup_after, lambda: self.hangup(channel, source="remote")
            )

    def send_digits(
        self, channel: Channel, digits: str, duration_ms: int = 160, gap: float = 0.25
    ) -> None:
        for index, digit in enumerate(digits):
            self.later(
                channel, index * gap, lambda d=digit: self.dtmf_received(channel, d, duration_ms)
            )

    def on_answer(self, channel: Channel) -> None:
        if channel.dial_timer is not None:
            self.cancel_dial_timeout(channel)
        script = channel.script
        if isinstance(script, CallerScript | RemoteScript):
            self._press_on_answer(channel, script.digits)
        if isinstance(script, CallerScript):
            if script.hangup_after_answer is not None:
                self.later(
                    channel,
                    script.hangup_after_answer,
                    lambda: self.hangup(channel, source="remote"),
                )
        elif isinstance(script, PhoneScript | RemoteScript) and script.hangup_after is not None:
            self.later(channel, script.hangup_after, lambda: self.hangup(channel, source="remote"))

    def _press_on_answer(self, channel: Channel, presses: tuple[DigitPress, ...]) -> None:
        for press in presses:
            if press.on_media is None:
                self.later(
                    channel,
                    press.at,
                    lambda p=press: self.send_digits(channel, p.digits, p.duration_ms, p.gap),
                )

    def on_media(self, channel: Channel, uri: str) -> None:
        script = channel.script
        if isinstance(script, CallerScript | RemoteScript):
            for press in script.digits:
                if press.on_media == uri:
                    self.later(
                        channel,
                        press.at,
                        lambda p=press: self.send_digits(channel, p.digits, p.duration_ms, p.gap),
                    )

    def on_bridged(self, channel: Channel, bridge: Bridge) -> None:
        if len(bridge.channel_ids) < 2:
            return
        for member_id in bridge.channel_ids:
            member = self.channels.get(member_id)
            script = member.script if member else None
            if (
                member is not None
                and isinstance(script, CallerScript)
                and script.hangup_after_bridged is not None
                and "bridged_timer" not in member.flags
            ):
                member.flags.add("bridged_timer")
                self.later(
                    member,
                    script.hangup_after_bridged,
                    lambda m=member: self.hangup(m, source="remote"),
                )

    # -- phones ------------------------------------------------------------

    def set_phone(self, script: PhoneScript) -> None:
        """Add or replace a phone's script (registering or unregistering it as it says)."""
        old = self.phones.get(script.endpoint)
        self.phones[script.endpoint] = script
        if script.registered and (old is None or script.endpoint not in self.registered):
            self.register(script.endpoint)
        elif not script.registered and script.endpoint in self.registered:
            self.unregister(script.endpoint)
        else:
            self.refresh_device(script.endpoint)

    def phone(self, endpoint: str) -> PhoneScript:
        found = self.phones.get(endpoint)
        if found is None:
            raise KeyError(endpoint)
        return found

    def register(self, endpoint: str) -> None:
        """A REGISTER: ``PeerStatus`` Reachable, ``DeviceStateChange``, ``ContactStatus``."""
        phone = self.phone(endpoint)
        self.phones[endpoint] = replace(phone, registered=True)
        self.registered.add(endpoint)
        self.ami(
            "PeerStatus",
            "system,all",
            ChannelType="PJSIP",
            Peer=f"PJSIP/{endpoint}",
            PeerStatus="Reachable",
        )
        self.refresh_device(endpoint)
        self.ami("ContactStatus", "system,all", self.contact_fields(endpoint, "NonQualified"))
        self.endpoint_changed(endpoint)

    def unregister(self, endpoint: str) -> None:
        """A REGISTER with ``Expires: 0``: Unreachable, UNAVAILABLE, contact Removed."""
        phone = self.phone(endpoint)
        self.phones[endpoint] = replace(phone, registered=False)
        self.registered.discard(endpoint)
        self.ami(
            "PeerStatus",
            "system,all",
            ChannelType="PJSIP",
            Peer=f"PJSIP/{endpoint}",
            PeerStatus="Unreachable",
        )
        self.refresh_device(endpoint)
        self.ami("ContactStatus", "system,all", self.contact_fields(endpoint, "Removed"))
        self.endpoint_changed(endpoint)

    def contact_uri(self, endpoint: str) -> str:
        phone = self.phones[endpoint]
        return f"sip:{endpoint}@{phone.contact_host}:{phone.contact_port}"

    def contact_fields(self, endpoint: str, status: str) -> list[tuple[str, str]]:
        return [
            ("URI", self.contact_uri(endpoint)),
            ("ContactStatus", status),
            ("AOR", endpoint),
            ("EndpointName", endpoint),
            ("RoundtripUsec", "0"),
        ]

    def set_busy_outside(self, endpoint: str, busy: bool) -> None:
        self.phones[endpoint] = replace(self.phone(endpoint), busy_outside=busy)
        self.refresh_device(endpoint)

    def endpoint_json(self, endpoint: str) -> dict[str, Any]:
        online = endpoint not in self.phones or self.reachable(endpoint)
        return {
            "technology": "PJSIP",
            "resource": endpoint,
            "state": "online" if online else "offline",
            "channel_ids": [c.id for c in self.channels.values() if c.endpoint == endpoint],
        }

    def endpoint_changed(self, endpoint: str) -> None:
        apps = {
            name
            for name, app in self.apps.items()
            if {f"endpoint:PJSIP/{endpoint}", "endpoint:PJSIP"} & app.sources
        }
        if apps:
            self.emit(apps, "EndpointStateChange", endpoint=self.endpoint_json(endpoint))

    def hangup_phone(self, endpoint: str) -> int:
        """The agent hangs up: every channel of the phone ends from the far side."""
        mine = [c for c in self.channels.values() if c.endpoint == endpoint]
        for channel in mine:
            self.hangup(channel, source="remote")
        return len(mine)

    # -- originate ---------------------------------------------------------

    def resolve_endpoint(self, endpoint: str) -> tuple[str, str, PhoneScript | RemoteScript]:
        """``PJSIP/8001`` or ``PJSIP/12319@hotline-12319`` -> (endpoint, dialstring, script)."""
        tech, _, resource = endpoint.partition("/")
        if not tech or not resource:
            raise AriError(400, "Invalid endpoint specified")
        if tech.upper() != "PJSIP":
            # ast_dial_prerun cannot request the channel: ast_ari_response_alloc_failed.
            raise AriError(500, "Allocation failed")
        number, _, trunk = resource.partition("@")
        if trunk:
            if not self.is_trunk(trunk):
                raise AriError(500, "Allocation failed")
            remote = self.remotes.get((trunk, number)) or self.config.default_remote
            if remote is None:
                raise AriError(500, "Allocation failed")
            return trunk, resource, replace(remote, number=number, trunk=trunk)
        phone = self.phones.get(number)
        if phone is None:
            raise AriError(500, "Allocation failed")
        if not self.reachable(number):
            # chan_pjsip cannot create a channel to an endpoint without contacts.
            raise AriError(500, "Allocation failed")
        return number, resource, phone

    def originate(
        self,
        endpoint: str,
        *,
        channel_id: str | None,
        caller_id: str,
        timeout: float | None,
        origination: Origination,
        variables: dict[str, str] | None = None,
        subscribe: bool = True,
        other_id: str | None = None,
        reported: tuple[str, ...] = (),
    ) -> Channel:
        if channel_id and channel_id in self.channels:
            raise AriError(409, "Channel with given unique ID already exists")
        party = parse_caller_id(caller_id) if caller_id else None
        tech, _, resource = endpoint.partition("/")
        if tech.lower() == "local" and resource:
            channel, inward = self.new_local_pair(
                resource,
                channel_id=channel_id,
                other_id=other_id,
                dialplan=Dialplan("", "", 1, "AppDial2", "(Outgoing Line)"),
            )
            exten, context = inward.dialplan.exten, inward.dialplan.context
            channel.dialplan = Dialplan(context, exten, 1, "AppDial2", "(Outgoing Line)")
            if subscribe and origination.app:
                inward.originated_by = origination.app
        else:
            name, dialstring, script = self.resolve_endpoint(endpoint)
            is_phone = isinstance(script, PhoneScript)
            context = self.config.agent_context if is_phone else self.config.carrier_context
            channel = self.new_channel(
                channel_id=channel_id,
                name=self.new_pjsip_name(name),
                kind=Kind.PHONE if is_phone else Kind.REMOTE,
                endpoint=name,
                state="Down",
                caller=party or Party(),
                connected=Party(party.name, party.number) if party else Party(),
                dialplan=Dialplan(context, "s", 1, "AppDial2", "(Outgoing Line)"),
                dialstring=dialstring,
            )
            channel.script = script
        channel.ami_origin = origination
        if subscribe and origination.app:
            channel.originated_by = origination.app
        self.apply_variables(channel, variables or {}, reported)
        limit = self.config.originate_timeout if timeout is None else timeout
        if limit > 0:
            self.later(channel, limit, lambda: self.no_answer(channel))
        self.later(channel, 0, lambda: self.start_dial(channel))
        return channel

    def apply_variables(
        self, channel: Channel, variables: dict[str, str], reported: tuple[str, ...] = ()
    ) -> None:
        for key, value in variables.items():
            if key.endswith(")"):
                self.write_variable(channel, key, value)
            else:
                self.set_var(channel, key, value)
        for name in reported:
            if name not in channel.reported_vars:
                channel.reported_vars.append(name)

    def create(
        self,
        endpoint: str,
        *,
        app: str,
        args: list[str],
        channel_id: str | None,
        other_id: str | None,
        variables: dict[str, str],
        reported: tuple[str, ...] = (),
    ) -> Channel:
        """``POST /channels/create``: a ``Down`` channel, not yet called."""
        tech, _, resource = endpoint.partition("/")
        if not tech or not resource:
            raise AriError(400, "Invalid endpoint specified")
        if channel_id and channel_id in self.channels:
            raise AriError(409, "Channel with given unique ID already exists")
        if tech.lower() == "local":
            exten, _, context = resource.partition("@")
            channel, _ = self.new_local_pair(
                resource,
                channel_id=channel_id,
                other_id=other_id,
                dialplan=Dialplan(context or "default", exten, 1, "", ""),
            )
        else:
            name, dialstring, script = self.resolve_endpoint(endpoint)
            channel = self.new_channel(
                channel_id=channel_id,
                name=self.new_pjsip_name(name),
                kind=Kind.PHONE if isinstance(script, PhoneScript) else Kind.REMOTE,
                endpoint=name,
                state="Down",
                caller=Party(),
                connected=Party(),
                dialplan=Dialplan("default", "s", 1, "", ""),
                dialstring=dialstring,
            )
            channel.script = script
        channel.flags.add("stasis_dial")
        channel.ami_origin = Origination(app=None, args=[])
        if app:
            channel.originated_by = app
        self.apply_variables(channel, variables, reported)
        return channel

    def start_created(self, channel: Channel, app: str, args: list[str]) -> None:
        """After the ``200`` of a create: the channel runs ``Stasis(app,args)``."""
        if self.channels.get(channel.id) is not channel or not app:
            return
        data = ",".join([app, *args])
        here = channel.dialplan
        channel.outside_dialplan = here
        channel.dialplan = Dialplan(here.context, here.exten, here.priority, "Stasis", data)
        self.emit_channel(channel, "ChannelDialplan", dialplan_app="Stasis", dialplan_app_data=data)
        if not self.enter_stasis(channel, app, args):
            self.hangup(channel, source="dialplan")

    def dial(self, channel: Channel, timeout: int) -> None:
        """``POST /channels/{id}/dial`` (checked by the route): call the created channel."""
        if channel.state not in ("Down", "Rsrved"):
            raise AriError(409, "Channel is not in the 'Down' state")
        if "stasis_dial" not in channel.flags or not channel.dialstring:
            raise AriError(409, "Dialing a channel not created by ARI")
        channel.flags.add("dialing")
        if timeout > 0:
            channel.dial_timer = self.clock.call_later(
                timeout, lambda: self.dial_timed_out(channel)
            )
            channel.timers.append(channel.dial_timer)

    def start_dial(self, channel: Channel) -> None:
        if self.channels.get(channel.id) is not channel:
            return
        if channel.kind is Kind.LOCAL:
            self.emit_dial(channel, "")
            self.call_local(channel)
            return
        script = channel.script
        rings = isinstance(script, RemoteScript) or (
            isinstance(script, PhoneScript) and script.ring
        )
        if isinstance(script, RemoteScript) and not script.busy:
            channel.rang = True
            self.set_state(channel, "Ringing")
        self.emit_dial(channel, "")
        if isinstance(script, PhoneScript) and (script.reject or script.busy_outside):
            self.later(channel, _RING_DELAY, lambda: self.busy(channel))
            return
        if isinstance(script, RemoteScript) and script.busy:
            self.later(channel, _RING_DELAY, lambda: self.busy(channel))
            return
        if rings and not channel.rang:
            channel.rang = True
            self.set_state(channel, "Ringing")
        if rings:
            self.emit_dial(channel, "RINGING")
            channel.log.hear("ringing", channel.caller.number)
        if isinstance(script, RemoteScript) and script.early_media:
            self.emit_dial(channel, "PROGRESS")
            channel.log.hear("early_media", script.early_media)
        answer_after = script.answer_after if script is not None else None  # type: ignore[union-attr]
        if answer_after is not None:
            self.later(channel, answer_after, lambda: self.far_end_answered(channel))

    def far_end_answered(self, channel: Channel) -> None:
        """The dialled party answered: ``Up``, ``Dial`` ANSWER, then where it goes."""
        if "stasis_dial" in channel.flags:
            channel.flags.discard("dialing")
            self.cancel_dial_timeout(channel)
            self.answer(channel)
            self.emit_dial(channel, "ANSWER")
            return
        self.answer(channel)
        self.emit_dial(channel, "ANSWER")
        origination: Origination = channel.ami_origin
        if origination.on_result is not None:
            origination.on_result(channel, 4, True)
        if origination.app:
            if not self.enter_stasis(channel, origination.app, origination.args):
                self.hangup(channel, source="dialplan")
        elif origination.context:
            channel.outside_dialplan = None
            self.run_dialplan(
                channel, origination.context, origination.exten or "s", origination.priority
            )

    def busy(self, channel: Channel) -> None:
        origination: Origination = channel.ami_origin
        if origination.on_result is not None:
            origination.on_result(channel, 5, False)
        self.hangup(channel, cause=17, source="busy")

    def no_answer(self, channel: Channel) -> None:
        if channel.log.answered:
            return
        origination: Origination = channel.ami_origin
        if origination.on_result is not None:
            origination.on_result(channel, 3 if channel.rang else 0, False)
        self.hangup(channel, cause=19, source="timeout")

    def on_hangup(self, channel: Channel) -> None:
        peer = self.local_peer(channel)
        if peer is not None:
            self.hangup(peer, cause=channel.log.hangup_cause or 16, source="local")
        origination = channel.ami_origin
        if isinstance(origination, Origination) and origination.on_result is not None:
            if not channel.log.answered and channel.log.hangup_by in ("api", "remote"):
                origination.on_result(channel, 1, False)
            origination.on_result = None


__all__ = ["CallHandle", "ChannelLog", "Origination", "PeerOps"]
