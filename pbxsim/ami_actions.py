"""AMI actions against the world, and the AMI wire format; no sockets here.

Frames are lists of ``(key, value)`` pairs in wire order.  ``encode`` turns
one into bytes exactly as Asterisk writes it (``Key: Value\\r\\n`` lines, a
blank line after).  Replies follow the transcripts: ``Response: Error`` with a
``Message:`` on failure, event lists bracketed by ``EventList: start`` and a
``...Complete`` event carrying ``ListItems``, and the odd ``No Contacts
found\\n`` message of ``PJSIPShowContacts`` reproduced byte for byte.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import AriError
from .model import STATE_CODES, Channel
from .peers import Origination
from .world import World

Frame = list[tuple[str, str]]
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def encode(frame: Frame) -> bytes:
    return "".join(f"{key}: {value}\r\n" for key, value in frame).encode("utf-8") + b"\r\n"


def parse(block: str) -> dict[str, list[str]]:
    """One action (lines without the blank terminator) -> lower-cased keys to values."""
    fields: dict[str, list[str]] = {}
    for line in block.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), []).append(value.strip())
    return fields


@dataclass
class SessionState:
    authenticated: bool = False
    events: bool = True
    username: str = ""
    closing: bool = False


def _contact_hash(uri: str) -> str:
    """chan_pjsip names a dynamic contact after a hash of its URI."""
    return hashlib.md5(uri.encode("utf-8"), usedforsecurity=False).hexdigest()


def _first(fields: dict[str, list[str]], key: str, default: str = "") -> str:
    return fields.get(key.lower(), [default])[0]


class AmiActions:
    """Answers AMI actions; ``send_later`` carries replies decided after the action returns."""

    def __init__(self, world: World, user: str, secret: str) -> None:
        self.world = world
        self.user = user
        self.secret = secret
        self.host = world.config.host
        self.port = 0

    def handle(
        self,
        state: SessionState,
        fields: dict[str, list[str]],
        send_later: Callable[[Frame], None],
    ) -> list[Frame]:
        action = _first(fields, "action")
        action_id = _first(fields, "actionid")
        ident = [("ActionID", action_id)] if "actionid" in fields else []
        if not action:
            return [[("Response", "Error"), *ident, ("Message", "Missing action in request")]]
        name = action.lower()
        if name == "login":
            return self.login(state, fields, ident)
        if name == "logoff":
            state.closing = True
            return [[("Response", "Goodbye"), *ident, ("Message", "Thanks for all the fish.")]]
        if not state.authenticated:
            return [[("Response", "Error"), *ident, ("Message", "Permission denied")]]
        method = getattr(self, f"do_{name}", None)
        if method is None:
            message = (
                f"Invalid/unknown command: {action}. Use Action: ListCommands to show "
                "available commands."
            )
            return [[("Response", "Error"), *ident, ("Message", message)]]
        frames: list[Frame] = method(fields, ident, send_later)
        return frames

    def login(self, state: SessionState, fields: dict[str, list[str]], ident: Frame) -> list[Frame]:
        user, secret = _first(fields, "username"), _first(fields, "secret")
        if user != self.user or secret != self.secret:
            state.closing = True
            return [[("Response", "Error"), *ident, ("Message", "Authentication failed")]]
        state.authenticated = True
        state.username = user
        state.events = _first(fields, "events", "on").lower() not in ("off", "no", "0", "false")
        now = time.time()
        stamp = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
            + f".{int(now * 1000) % 1000:03d}+0000"
        )
        return [
            [("Response", "Success"), *ident, ("Message", "Authentication accepted")],
            [
                ("Event", "FullyBooted"),
                ("Privilege", "system,all"),
                ("Uptime", str(self.world.uptime())),
                ("LastReload", str(int(now - self.world.reloaded_at))),
                ("Status", "Fully Booted"),
            ],
            [
                ("Event", "SuccessfulAuth"),
                ("Privilege", "security,all"),
                ("EventTV", stamp),
                ("Severity", "Informational"),
                ("Service", "AMI"),
                ("EventVersion", "1"),
                ("AccountID", user),
                ("SessionID", f"0x{id(state):x}"),
                ("LocalAddress", f"IPV4/TCP/{self.host}/{self.port}"),
                ("RemoteAddress", f"IPV4/TCP/{self.host}/0"),
                ("UsingPassword", "0"),
                ("SessionTV", stamp),
            ],
        ]

    # -- simple actions ------------------------------------------------------

    def do_ping(self, fields: dict[str, list[str]], ident: Frame, _: Any) -> list[Frame]:
        return [
            [("Response", "Success"), *ident, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")]
        ]

    def do_coreshowchannels(
        self, fields: dict[str, list[str]], ident: Frame, _: Any
    ) -> list[Frame]:
        frames: list[Frame] = [
            [
                ("Response", "Success"),
                *ident,
                ("EventList", "start"),
                ("Message", "Channels will follow"),
            ]
        ]
        now = self.world.now()
        for channel in self.world.channels.values():
            seconds = int(now - channel.created_at)
            duration = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            frames.append(
                [
                    ("Event", "CoreShowChannel"),
                    *ident,
                    *self.world.ami_channel(channel),
                    ("Application", channel.dialplan.app_name),
                    ("ApplicationData", channel.dialplan.app_data),
                    ("Duration", duration),
                    ("BridgeId", channel.bridge or ""),
                ]
            )
        frames.append(
            [
                ("Event", "CoreShowChannelsComplete"),
                *ident,
                ("EventList", "Complete"),
                ("ListItems", str(len(frames) - 1)),
            ]
        )
        return frames

    def do_pjsipshowcontacts(
        self, fields: dict[str, list[str]], ident: Frame, _: Any
    ) -> list[Frame]:
        world = self.world
        contacts = sorted(world.registered)
        if not contacts:
            return [[("Response", "Error"), *ident, ("Message", "No Contacts found\n")]]
        frames: list[Frame] = [
            [
                ("Response", "Success"),
                *ident,
                ("EventList", "start"),
                ("Message", "A listing of Contacts follows, presented as ContactList events"),
            ]
        ]
        for endpoint in contacts:
            phone = world.phones[endpoint]
            frames.append(
                [
                    ("Event", "ContactList"),
                    *ident,
                    ("ObjectType", "contact"),
                    ("ObjectName", f"{endpoint};@{_contact_hash(world.contact_uri(endpoint))}"),
                    ("ViaAddr", phone.contact_host),
                    ("QualifyTimeout", "3.000000"),
                    ("Qualify2xxOnly", "false"),
                    ("CallId", f"1-{endpoint}@{phone.contact_host}"),
                    ("RegServer", ""),
                    ("PruneOnBoot", "no"),
                    ("Path", ""),
                    ("Endpoint", endpoint),
                    ("ViaPort", str(phone.contact_port)),
                    ("AuthenticateQualify", "no"),
                    ("Uri", world.contact_uri(endpoint)),
                    ("QualifyFrequency", "0"),
                    ("UserAgent", phone.user_agent),
                    ("ExpirationTime", str(int(time.time()) + 3600)),
                    ("OutboundProxy", ""),
                    ("Status", "NonQualified"),
                    ("RoundtripUsec", "N/A"),
                ]
            )
        frames.append(
            [
                ("Event", "ContactListComplete"),
                *ident,
                ("EventList", "Complete"),
                ("ListItems", str(len(contacts))),
            ]
        )
        return frames

    def do_devicestatelist(self, fields: dict[str, list[str]], ident: Frame, _: Any) -> list[Frame]:
        world = self.world
        frames: list[Frame] = [
            [
                ("Response", "Success"),
                *ident,
                ("EventList", "start"),
                ("Message", "Device State Changes will follow"),
            ]
        ]
        states = {f"PJSIP/{e}": world.device_state(e) for e in world.endpoints()}
        states.update({k: v for k, v in world.device_states.items() if k.startswith("Stasis:")})
        for device, state in states.items():
            frames.append(
                [("Event", "DeviceStateChange"), *ident, ("Device", device), ("State", state)]
            )
        frames.append(
            [
                ("Event", "DeviceStateListComplete"),
                *ident,
                ("EventList", "Complete"),
                ("ListItems", str(len(states))),
            ]
        )
        return frames

    def _channel(self, fields: dict[str, list[str]]) -> Channel | None:
        name = _first(fields, "channel")
        return self.world.channel_by_name(name) or self.world.channels.get(name)

    def do_getvar(self, fields: dict[str, list[str]], ident: Frame, _: Any) -> list[Frame]:
        variable = _first(fields, "variable")
        if not variable:
            return [[("Response", "Error"), *ident, ("Message", "No variable specified")]]
        if "channel" not in fields:
            value = self.world.global_vars.get(variable, "")
        else:
            channel = self._channel(fields)
            if channel is None:
                return [[("Response", "Error"), *ident, ("Message", "No such channel")]]
            try:
                value = self.world.read_variable(channel, variable)
            except AriError:
                value = ""
        return [[("Response", "Success"), *ident, ("Variable", variable), ("Value", value)]]

    def do_setvar(self, fields: dict[str, list[str]], ident: Frame, _: Any) -> list[Frame]:
        variable = _first(fields, "variable")
        if not variable:
            return [[("Response", "Error"), *ident, ("Message", "No variable specified")]]
        value = _first(fields, "value")
        if "channel" not in fields:
            self.world.global_vars[variable] = value
        else:
            channel = self._channel(fields)
            if channel is None:
                return [[("Response", "Error"), *ident, ("Message", "No such channel")]]
            try:
                self.world.write_variable(channel, variable, value)
            except AriError as exc:
                return [[("Response", "Error"), *ident, ("Message", exc.message)]]
        return [[("Response", "Success"), *ident, ("Message", "Variable Set")]]

    def do_hangup(self, fields: dict[str, list[str]], ident: Frame, _: Any) -> list[Frame]:
        channel = self._channel(fields)
        if channel is None:
            return [[("Response", "Error"), *ident, ("Message", "No such channel")]]
        self.world.hangup(channel, cause=int(_first(fields, "cause", "16") or 16), source="api")
        return [[("Response", "Success"), *ident, ("Message", "Channel Hungup")]]

    def do_redirect(self, fields: dict[str, list[str]], ident: Frame, _: Any) -> list[Frame]:
        channel = self._channel(fields)
        if channel is None:
            return [
                [("Response", "Error"), *ident, ("Message", "Channel specified does not exist")]
            ]
        context = _first(fields, "context") or channel.dialplan.context
        exten = _first(fields, "exten")
        if not exten:
            return [[("Response", "Error"), *ident, ("Message", "Exten not specified")]]
        priority = _first(fields, "priority")
        channel.log.hear("redirect", f"{context},{exten}")
        self.world.leave_stasis(channel)
        self.world.run_dialplan(channel, context, exten, int(priority) if priority.isdigit() else 1)
        return [[("Response", "Success"), *ident, ("Message", "Redirect successful")]]

    def do_originate(
        self, fields: dict[str, list[str]], ident: Frame, send_later: Callable[[Frame], None]
    ) -> list[Frame]:
        endpoint = _first(fields, "channel")
        if not endpoint:
            return [[("Response", "Error"), *ident, ("Message", "Channel not specified")]]
        application = _first(fields, "application")
        exten, context = _first(fields, "exten"), _first(fields, "context", "default")
        if not application and not exten:
            return [[("Response", "Error"), *ident, ("Message", "Exten not specified")]]
        data = _first(fields, "data")
        is_async = _first(fields, "async").lower() in ("true", "yes", "1", "on")
        variables: dict[str, str] = {}
        for item in fields.get("variable", []):
            for pair in item.split(","):
                key, _, value = pair.partition("=")
                if key:
                    variables[key.strip()] = value
        app = data.split(",")[0] if application.lower() == "stasis" and data else None
        args = data.split(",")[1:] if app else []

        def result(channel: Channel, reason: int, answered: bool) -> None:
            frame: Frame = [
                ("Event", "OriginateResponse"),
                ("Privilege", "call,all"),
                *ident,
                ("Response", "Success" if answered else "Failure"),
                ("Channel", channel.name),
                ("Context", context if not application else ""),
                ("Exten", exten if not application else ""),
                ("Application", application),
                ("Data", data),
                ("Reason", str(reason)),
                ("Uniqueid", channel.id),
                ("CallerIDNum", channel.caller.number or "<unknown>"),
                ("CallerIDName", channel.caller.name or "<unknown>"),
            ]
            self.world.sink.ami_event(frame)
            if not is_async:
                send_later(
                    [
                        ("Response", "Success" if answered else "Error"),
                        *ident,
                        (
                            "Message",
                            "Originate successfully queued" if answered else "Originate failed",
                        ),
                    ]
                )

        timeout_ms = int(_first(fields, "timeout", "30000") or 30000)
        origination = Origination(
            app=app,
            args=args,
            context=None if app else context,
            exten=None if app else exten,
            on_result=result,
        )
        try:
            self.world.originate(
                endpoint,
                channel_id=_first(fields, "channelid") or None,
                caller_id=_first(fields, "callerid"),
                timeout=timeout_ms / 1000.0,
                origination=origination,
                variables=variables,
                subscribe=False,
            )
        except AriError:
            return [[("Response", "Error"), *ident, ("Message", "Originate failed")]]
        if is_async:
            return [[("Response", "Success"), *ident, ("Message", "Originate successfully queued")]]
        return []

    def do_status(self, fields: dict[str, list[str]], ident: Frame, _: Any) -> list[Frame]:
        frames: list[Frame] = [
            [
                ("Response", "Success"),
                *ident,
                ("EventList", "start"),
                ("Message", "Channel status will follow"),
            ]
        ]
        for channel in self.world.channels.values():
            frames.append(
                [
                    ("Event", "Status"),
                    *ident,
                    *self.world.ami_channel(channel),
                    ("State", str(STATE_CODES.get(channel.state, 10))),
                ]
            )
        frames.append(
            [
                ("Event", "StatusComplete"),
                *ident,
                ("EventList", "Complete"),
                ("ListItems", str(len(frames) - 1)),
                ("Items", str(len(frames) - 1)),
            ]
        )
        return frames
