"""The dialplan running: applications, Local channels, and channels the application dials.

A channel runs its dialplan one priority after another, as ``pbx.c`` does:
each application gets the priority's data with ``${...}`` and ``$[...]``
substituted, a subscribed application hears ``ChannelDialplan`` for it, and
the next priority follows unless the application jumped (``Goto``,
``GotoIf``), waits (``Wait``, ``Playback``, ``Queue``, ``VoiceMail``,
``Busy``), hands the channel to Stasis, or hung up.  Running off the end of
an extension, or into one that does not exist, hangs the channel up.  AMI
hears ``Newexten`` for every priority; ``UserEvent`` raises AMI ``UserEvent``
and, to a subscribed application, ``ChannelUserevent``.

``Stasis(app,args...)`` with no WebSocket connected for ``app`` sets
``STASISSTATUS=FAILED`` and goes on at the next priority (the shipped
dialplan's engine-down fallback).  After ``POST /channels/{id}/continue`` the
channel leaves Stasis (``StasisEnd``, ``STASISSTATUS=SUCCESS``) and goes on
at the next priority, or where it was told.

``Queue`` and ``VoiceMail`` are stand-ins: the caller waits in the queue for
its timeout (``QUEUESTATUS=TIMEOUT``), and leaves a message until it hangs up
or the message limit passes (``VMSTATUS=SUCCESS``).

Local channels (``Local/exten@context``) come in halves: ``;1`` is the one
originated or created, ``;2`` runs the dialplan at ``exten@context`` once
``;1`` is called.  What ``;2`` indicates shows on ``;1``: ``Ringing()`` makes
it ``Ringing`` with ``Dial`` RINGING, ``Progress()`` gives ``Dial``
PROGRESS (early media), ``Busy()`` gives ``Dial`` BUSY, ``Answer()`` answers
it.  Transcripts ``create_then_dial_answer_busy_timeout``,
``continue_back_to_dialplan`` and ``application_replaced`` show each.

``POST /channels/create`` puts a ``Down`` channel straight into the
application (``ChannelDialplan`` Stasis, ``STASISSTATUS`` "", ``StasisStart``);
``POST /channels/{id}/dial`` then calls it: ``Dial`` with the dial string
first, the far end's answer next.  A busy Local destination leaves the channel
in the application, ``Down``; a dial timeout hangs it up
(``ChannelHangupRequest`` cause 32 soft, ``ChannelDestroyed`` cause 19, no
``Dial`` NOANSWER).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .dialplan import Plan, Step, split_args, substitute
from .errors import AriError
from .media import MediaOps
from .model import Channel, Dialplan, Kind, Party

log = logging.getLogger("pbxsim.dialplan")

_NEXT, _JUMPED, _PAUSED = "next", "jumped", "paused"
_STEPS_AT_ONCE = 200  # a dialplan looping on itself without waiting is cut here
_VOICEMAIL_LIMIT = 300.0  # voicemail.conf maxsecs: the longest message
# What the h extension can still do on a hung-up channel (the rest ends it).
_RUN_AFTER_HANGUP = {"noop", "set", "log", "verbose", "userevent", "goto", "gotoif", "execif"}


class DialplanOps(MediaOps):
    plan: Plan

    # -- running -------------------------------------------------------------

    def run_dialplan(self, channel: Channel, context: str, exten: str, priority: int = 1) -> None:
        """Send a channel to ``context,exten,priority`` and run from there."""
        self.goto(channel, context, exten, priority)
        self.pbx_run(channel)

    def goto(self, channel: Channel, context: str, exten: str, priority: int) -> None:
        channel.pbx_token += 1
        step = self.plan.step(context, exten, priority)
        channel.dialplan = Dialplan(
            context, exten, priority, step.app if step else "", step.data if step else ""
        )

    def pbx_run(self, channel: Channel) -> None:
        for _ in range(_STEPS_AT_ONCE):
            if self.channels.get(channel.id) is not channel or channel.app is not None:
                return
            here = channel.dialplan
            step = self.plan.step(here.context, here.exten, here.priority)
            if step is None:
                channel.log.hear("dialplan_end", f"{here.context},{here.exten},{here.priority}")
                self.hangup(channel, cause=channel.hangup_cause or 16, source="dialplan")
                return
            channel.flags.add("pbx")
            token = channel.pbx_token
            outcome = self.run_step(channel, step)
            if outcome == _PAUSED:
                return
            if outcome == _NEXT and channel.pbx_token == token:
                self.goto(channel, here.context, here.exten, here.priority + 1)
        self.hangup(channel, source="dialplan")

    def run_hangup_extension(self, channel: Channel) -> None:
        """A channel that ran the dialplan hangs up: the ``h`` extension of its context
        runs, if the context has one (a pattern matching ``h`` counts), priority after
        priority until an application would wait or stop (``ast_pbx_h_exten_run``)."""
        if "pbx" not in channel.flags or "h_run" in channel.flags:
            return
        channel.flags.add("h_run")
        context = channel.dialplan.context
        if self.plan.extension(context, "h") is None:
            return
        self.goto(channel, context, "h", 1)
        for _ in range(_STEPS_AT_ONCE):
            here = channel.dialplan
            step = self.plan.step(here.context, here.exten, here.priority)
            if step is None:
                return
            if step.app.lower() not in _RUN_AFTER_HANGUP:
                return  # it would wait for media, or end the channel: it is ended
            token = channel.pbx_token
            outcome = self.run_step(channel, step)
            if outcome == _JUMPED:
                continue
            if outcome != _NEXT or channel.pbx_token != token:
                return
            self.goto(channel, here.context, here.exten, here.priority + 1)

    def run_step(self, channel: Channel, step: Step) -> str:
        here = channel.dialplan
        data = substitute(step.data, self.lookup(channel))
        channel.dialplan = Dialplan(here.context, here.exten, here.priority, step.app, data)
        self.emit_channel(channel, "ChannelDialplan", dialplan_app=step.app, dialplan_app_data=data)
        self.ami(
            "Newexten",
            "dialplan,all",
            self.ami_channel(channel),
            Extension=here.exten,
            Application=step.app,
            AppData=data,
        )
        return self.execute(channel, step.app, data)

    def resume_later(
        self, channel: Channel, delay: float | None, outcome: tuple[str, str] | None = None
    ) -> None:
        """Go on at the next priority after ``delay`` simulated seconds (None: never),
        first setting the application's ``outcome`` variable if it has one."""
        if delay is None:
            return
        token = channel.pbx_token
        here = channel.dialplan

        def resume() -> None:
            if channel.pbx_token == token and channel.app is None:
                if outcome is not None:
                    self.set_var(channel, *outcome)
                self.goto(channel, here.context, here.exten, here.priority + 1)
                self.pbx_run(channel)

        self.later(channel, delay, resume)

    def lookup(self, channel: Channel) -> Callable[[str], str]:
        def value(name: str) -> str:
            return self.dialplan_value(channel, name)

        return value

    def dialplan_value(self, channel: Channel, name: str) -> str:
        """``${name}``: a channel variable, a dialplan function, or a global."""
        builtins = {
            "EXTEN": channel.dialplan.exten,
            "CONTEXT": channel.dialplan.context,
            "PRIORITY": str(channel.dialplan.priority),
            "CHANNEL": channel.name,
            "UNIQUEID": channel.id,
            "CALLERID(num)": channel.caller.number,
            "CALLERID(name)": channel.caller.name,
        }
        if name in builtins:
            return builtins[name]
        if name in channel.variables:
            return channel.variables[name]
        if name.endswith(")"):
            try:
                return self.read_variable(channel, name)
            except AriError:
                return ""
        return self.global_vars.get(name, self.plan.globals.get(name, ""))

    # -- applications ----------------------------------------------------------

    def execute(self, channel: Channel, app: str, data: str) -> str:
        handler = getattr(self, f"app_{app.lower()}", None)
        if handler is None:
            # pbx.c: "No application 'X' for extension": the channel hangs up.
            channel.log.hear("no_application", app)
            log.warning("dialplan: no application %r (%s)", app, channel.name)
            self.hangup(channel, source="dialplan")
            return _PAUSED
        outcome: str = handler(channel, split_args(data) if data else [])
        return outcome

    def app_noop(self, channel: Channel, args: list[str]) -> str:
        return _NEXT

    def app_log(self, channel: Channel, args: list[str]) -> str:
        channel.log.hear("log", ",".join(args[1:]))
        return _NEXT

    def app_userevent(self, channel: Channel, args: list[str]) -> str:
        """AMI ``UserEvent`` and, to a subscribed application, ``ChannelUserevent``."""
        name = args[0] if args else ""
        body = dict(
            (key.strip(), value.strip())
            for key, _, value in (item.partition(":") for item in args[1:] if item)
        )
        self.ami("UserEvent", "user,all", self.ami_channel(channel), UserEvent=name, **body)
        self.emit_channel(channel, "ChannelUserevent", eventname=name, userevent=body)
        return _NEXT

    def app_execif(self, channel: Channel, args: list[str]) -> str:
        """``ExecIf(expr?app(args)[:app(args)])``: run the chosen application."""
        condition, _, calls = ",".join(args).partition("?")
        when_true, when_false = _split_else(calls)
        chosen = when_true if _truthy(condition) else when_false
        if not chosen:
            return _NEXT
        app, _, data = chosen.partition("(")
        return self.execute(channel, app.strip(), data.removesuffix(")"))

    def app_verbose(self, channel: Channel, args: list[str]) -> str:
        return _NEXT

    def app_echo(self, channel: Channel, args: list[str]) -> str:
        channel.log.hear("echo")
        return _PAUSED  # until the far end hangs up

    def app_musiconhold(self, channel: Channel, args: list[str]) -> str:
        moh_class = args[0] if args and args[0] else "default"
        channel.log.moh.append(moh_class)
        channel.log.hear("moh", moh_class)
        self.resume_later(channel, _seconds(args[1]) if len(args) > 1 else None)
        return _PAUSED

    def app_background(self, channel: Channel, args: list[str]) -> str:
        return self.app_playback(channel, args[:1])

    def app_congestion(self, channel: Channel, args: list[str]) -> str:
        channel.hangup_cause = 34
        self.indicate(channel, "CONGESTION")
        seconds = _seconds(args[0] if args else "")
        if seconds is not None:
            self.later(channel, seconds, lambda: self.hangup(channel, cause=34, source="dialplan"))
        return _PAUSED

    def app_set(self, channel: Channel, args: list[str]) -> str:
        name, _, value = ",".join(args).partition("=")
        name = name.strip().lstrip("_")
        if name.endswith(")"):
            try:
                self.write_variable(channel, name, value)
            except AriError:
                log.warning("dialplan: Set(%s) is not supported by pbxsim", name)
        elif name:
            self.set_var(channel, name, value)
        return _NEXT

    def app_answer(self, channel: Channel, args: list[str]) -> str:
        self.dialplan_answer(channel)
        return _NEXT

    def dialplan_answer(self, channel: Channel) -> None:
        if channel.state == "Up":
            return
        if channel.kind is Kind.LOCAL:
            self.local_answered(channel)
        self.answer(channel)

    def app_ringing(self, channel: Channel, args: list[str]) -> str:
        channel.log.hear("ringing")
        self.indicate(channel, "RINGING")
        return _NEXT

    def app_progress(self, channel: Channel, args: list[str]) -> str:
        channel.log.hear("progress")
        self.indicate(channel, "PROGRESS")
        return _NEXT

    def app_busy(self, channel: Channel, args: list[str]) -> str:
        channel.hangup_cause = 17
        self.indicate(channel, "BUSY")
        seconds = _seconds(args[0] if args else "")
        if seconds is not None:
            self.later(channel, seconds, lambda: self.hangup(channel, cause=17, source="dialplan"))
        return _PAUSED

    def app_wait(self, channel: Channel, args: list[str]) -> str:
        self.resume_later(channel, _seconds(args[0] if args else "") or 0.0)
        return _PAUSED

    def app_hangup(self, channel: Channel, args: list[str]) -> str:
        cause = int(args[0]) if args and args[0].strip().isdigit() else channel.hangup_cause or 16
        self.hangup(channel, cause=cause, source="dialplan")
        return _PAUSED

    def app_playback(self, channel: Channel, args: list[str]) -> str:
        files = [f for f in (args[0] if args else "").split("&") if f]
        options = args[1] if len(args) > 1 else ""
        if "noanswer" not in options:
            self.dialplan_answer(channel)
        total = 0.0
        for name in files:
            uri = f"sound:{name}"
            channel.log.media_played.append(uri)
            channel.log.hear("media", uri)
            self.on_media(channel, uri)
            total += self.media_duration(uri) or 0.0
        self.set_var(channel, "PLAYBACKSTATUS", "SUCCESS")
        self.resume_later(channel, total)
        return _PAUSED

    def app_goto(self, channel: Channel, args: list[str]) -> str:
        self.jump(channel, [a.strip() for a in args])
        return _JUMPED

    def app_gotoif(self, channel: Channel, args: list[str]) -> str:
        joined = ",".join(args)
        condition, _, targets = joined.partition("?")
        when_true, _, when_false = targets.partition(":")
        chosen = when_true if _truthy(condition) else when_false
        if not chosen.strip():
            return _NEXT
        self.jump(channel, [a.strip() for a in chosen.split(",")])
        return _JUMPED

    def jump(self, channel: Channel, target: list[str]) -> None:
        here = channel.dialplan
        context, exten, label = here.context, here.exten, target[-1]
        if len(target) == 3:
            context, exten = target[0], target[1]
        elif len(target) == 2:
            exten = target[0]
        if label.isdigit():
            priority = int(label)
        else:
            found = self.plan.label(context, exten, label)
            priority = found if found is not None else 0  # 0: no such priority, hangs up
        self.goto(channel, context, exten, priority)

    def app_stasis(self, channel: Channel, args: list[str]) -> str:
        if not args or not args[0]:
            self.set_var(channel, "STASISSTATUS", "FAILED")
            return _NEXT
        entered = self.enter_stasis(channel, args[0], args[1:])
        return _PAUSED if entered else _NEXT

    def app_queue(self, channel: Channel, args: list[str]) -> str:
        queue = args[0] if args else ""
        channel.log.hear("queue", queue)
        channel.log.moh.append("default")
        timeout = _seconds(args[4]) if len(args) > 4 else None
        self.resume_later(channel, timeout, ("QUEUESTATUS", "TIMEOUT"))
        return _PAUSED

    def app_voicemail(self, channel: Channel, args: list[str]) -> str:
        box = args[0] if args else ""
        self.dialplan_answer(channel)
        channel.log.hear("voicemail", box)
        self.resume_later(channel, _VOICEMAIL_LIMIT, ("VMSTATUS", "SUCCESS"))
        return _PAUSED

    # -- indications between the halves of a Local channel ----------------------

    def indicate(self, channel: Channel, what: str) -> None:
        """``;2`` signals towards the caller: ``;1`` shows it."""
        peer = self.local_peer(channel)
        if peer is None or channel.local_half != 2 or peer.log.answered:
            return
        if what == "RINGING":
            peer.rang = True
            self.set_state(peer, "Ringing")
            self.emit_dial(peer, "RINGING")
        elif what == "PROGRESS":
            self.emit_dial(peer, "PROGRESS")
        elif what in ("BUSY", "CONGESTION"):
            self.dial_finished(peer, what)

    def local_peer(self, channel: Channel) -> Channel | None:
        return self.channels.get(channel.local_peer) if channel.local_peer else None

    # -- Local channels ----------------------------------------------------------

    def new_local_pair(
        self,
        resource: str,
        *,
        channel_id: str | None,
        other_id: str | None,
        dialplan: Dialplan,
    ) -> tuple[Channel, Channel]:
        exten, _, context = resource.partition("@")
        context = context.split("/")[0] or "default"
        if channel_id and not other_id:
            other_id = f"{channel_id};2"  # core_local.c names the other half after the first
        for ident in (channel_id, other_id):
            if ident and ident in self.channels:
                raise AriError(409, "Channel with given unique ID already exists")
        sequence = f"{next(self._local_seq):08x}"
        base = f"Local/{exten}@{context}-{sequence}"
        outward = self.new_channel(
            channel_id=channel_id,
            name=f"{base};1",
            kind=Kind.LOCAL,
            endpoint=None,
            state="Down",
            caller=Party(),
            connected=Party(),
            dialplan=dialplan,
            protocol_id="",
        )
        inward = self.new_channel(
            channel_id=other_id,
            name=f"{base};2",
            kind=Kind.LOCAL,
            endpoint=None,
            state="Ring",
            caller=Party(),
            connected=Party(),
            dialplan=Dialplan(context, exten, 1, "", ""),
            protocol_id="",
        )
        outward.local_peer, outward.local_half = inward.id, 1
        inward.local_peer, inward.local_half = outward.id, 2
        outward.dialstring = f"{exten}@{context}"
        return outward, inward

    def call_local(self, outward: Channel) -> None:
        """``;1`` is called: ``;2`` starts its dialplan."""
        inward = self.local_peer(outward)
        if inward is None:
            return
        here = inward.dialplan
        self.run_dialplan(inward, here.context, here.exten, 1)

    def local_answered(self, inward: Channel) -> None:
        """``Answer()`` on ``;2``: ``;1`` answers first, then ``;2`` shows ``Up``."""
        outward = self.local_peer(inward)
        if outward is not None and inward.local_half == 2 and not outward.log.answered:
            self.far_end_answered(outward)

    # -- the far end of a dial -------------------------------------------------------

    def dial_finished(self, channel: Channel, status: str) -> None:
        """A dial ends without an answer (BUSY, CONGESTION)."""
        if "stasis_dial" in channel.flags:
            channel.flags.discard("dialing")
            self.cancel_dial_timeout(channel)
            self.emit_dial(channel, status)
            return
        self.busy(channel)

    def cancel_dial_timeout(self, channel: Channel) -> None:
        timer = channel.dial_timer
        if timer is not None:
            timer.cancel()
            channel.dial_timer = None

    def dial_timed_out(self, channel: Channel) -> None:
        """``POST /channels/{id}/dial`` with a timeout nobody answered within."""
        if channel.log.answered or "dialing" not in channel.flags:
            return
        channel.flags.discard("dialing")
        self.hangup(channel, cause=19, source="dial_timeout")

    # Provided by the peers mixin.
    def far_end_answered(self, channel: Channel) -> None:
        raise NotImplementedError

    def busy(self, channel: Channel) -> None:
        raise NotImplementedError


def _seconds(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def _split_else(calls: str) -> tuple[str, str]:
    """``app(a:b):other(c)`` -> (``app(a:b)``, ``other(c)``): the ``:`` outside parentheses."""
    depth = 0
    for index, char in enumerate(calls):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == ":" and depth == 0:
            return calls[:index].strip(), calls[index + 1 :].strip()
    return calls.strip(), ""


def _truthy(value: str) -> bool:
    text = value.strip()
    try:
        return float(text) != 0
    except ValueError:
        return text != ""


__all__ = ["DialplanOps"]
