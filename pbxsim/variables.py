"""Channel variables: plain ones, the dialplan functions the engine reads and writes,
and the RTP statistics Asterisk stores as variables when a call ends.

``GET /channels/{id}/variable`` reads ``CALLERID(num)``, ``CALLERID(name)``,
``CONNECTEDLINE(...)`` and ``REDIRECTING(from-num|reason|orig-num|count)`` (a
forwarded call: ``Diversion: <sip:85098110@...>;reason=unconditional`` gives
``85098110`` and ``cfu``); a plain variable that is not set is ``404 Provided
variable was not found``, an unknown function ``500 Unable to read provided
function`` (``res/ari/resource_channels.c``).  Writing a function changes the
channel without a ``ChannelVarset``.
"""

from __future__ import annotations

from typing import Any

from .core import WorldBase
from .errors import AriError
from .model import Channel, function_value


class VariableOps(WorldBase):
    def read_variable(self, channel: Channel, name: str) -> str:
        """``GET /channels/{id}/variable``: plain variables and the functions the engine reads."""
        if not name.endswith(")"):
            if name not in channel.variables:
                raise AriError(404, "Provided variable was not found")
            return channel.variables[name]
        value = function_value(channel, name)
        if value is not None:
            return value
        raise AriError(500, "Unable to read provided function")

    def write_variable(self, channel: Channel, name: str, value: str) -> None:
        """``POST /channels/{id}/variable``: functions change the channel, no ``ChannelVarset``."""
        channel.log.variables_set.append((name, value))
        if not name.endswith(")"):
            self.set_var(channel, name, value)
            return
        func, _, arg = name[:-1].partition("(")
        func, arg = func.upper(), arg.strip().lower()
        # CONNECTEDLINE(datatype,i): set without a protocol message (no event).
        arg, _, option = arg.partition(",")
        arg, inhibit = arg.strip(), option.strip() == "i"
        if func == "CALLERID" and arg in ("num", "number", "name"):
            if arg == "name":
                channel.caller.name = value
            else:
                channel.caller.number = value
            self.emit_channel(
                channel,
                "ChannelCallerId",
                caller_presentation=0,
                caller_presentation_txt="Presentation Allowed, Not Screened",
            )
            return
        if func == "CONNECTEDLINE" and arg in ("num", "number", "name"):
            if arg == "name":
                channel.connected.name = value
            else:
                channel.connected.number = value
            if not inhibit:
                self.emit_channel(channel, "ChannelConnectedLine")
            return
        if func == "REDIRECTING" and arg in ("from-num", "reason", "orig-num", "count"):
            channel.redirecting[arg] = value
            return
        raise AriError(400, "Failed to execute function")

    def set_channel_var(
        self, channel: Channel, name: str, value: Any, report_events: bool = False
    ) -> None:
        """``POST /channels/{id}/variable(s)``: set (or, without a value, unset) a
        variable; ``report_events`` adds it to the ``channelvars`` of every event
        about the channel from then on, False takes it out again."""
        if not name:
            raise AriError(400, "Failed to execute function")
        if report_events and name not in channel.reported_vars:
            channel.reported_vars.append(name)
        elif not report_events and name in channel.reported_vars:
            channel.reported_vars.remove(name)
        if value is None and not name.endswith(")"):
            channel.log.variables_set.append((name, ""))
            self.clear_var(channel, name)
            return
        self.write_variable(channel, name, "" if value is None else str(value))

    def rtp_statistics(self, channel: Channel) -> None:
        peer = self.two_party_peer(channel)
        ssrc = self.random.getrandbits(31)
        sent = int((self.now() - (channel.answered_at or self.now())) * 50)
        stats = [
            (
                "RTPAUDIOQOS",
                f"ssrc={ssrc};themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;"
                f"txjitter=0.000000;txcount={sent};rlp=0;rtt=0.000000;rxmes=0.000000;txmes=0.000000",
            ),
            (
                "RTPAUDIOQOSJITTER",
                "minrxjitter=000.000000;maxrxjitter=000.000000;"
                "avgrxjitter=000.000000;stdevrxjitter=000.000000;mintxjitter=000.000000;"
                "maxtxjitter=000.000000;avgtxjitter=000.000000;stdevtxjitter=000.000000;",
            ),
            (
                "RTPAUDIOQOSLOSS",
                "  minrxlost=000.000000;  maxrxlost=000.000000;  "
                "avgrxlost=000.000000;  stdevrxlost=000.000000;  mintxlost=000.000000;  "
                "maxtxlost=000.000000;  avgtxlost=000.000000;  stdevtxlost=000.000000;",
            ),
            (
                "RTPAUDIOQOSRTT",
                "     minrtt=000.000000;     maxrtt=000.000000;     "
                "avgrtt=000.000000;     stdevrtt=000.000000;",
            ),
            (
                "RTPAUDIOQOSMES",
                "   minrxmes=000.000000;   maxrxmes=000.000000;   "
                "avgrxmes=000.000000;   stdevrxmes=000.000000;   mintxmes=000.000000;   "
                "maxtxmes=000.000000;   avgtxmes=000.000000;   stdevtxmes=000.000000;",
            ),
        ]
        for name, value in stats:
            self.set_var(channel, name, value)
            if peer is not None:
                self.set_var(peer, f"{name}BRIDGED", value)

    def two_party_peer(self, channel: Channel) -> Channel | None:
        raise NotImplementedError
