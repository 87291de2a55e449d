"""The agent's own controls of a connected call: hold and mute.

:class:`AgentControls` belongs to one :class:`~switchboard.inbound.InboundCall`.
Only the call's agent, on a connected call, may use them; hold waits for no
transfer (a transfer in progress holds and unholds the caller itself).  A
request that changes nothing (hold while held) does nothing.
"""

from __future__ import annotations

import acd
from switchboard.commands import (
    AddToBridge,
    MuteChannel,
    RefuseTransfer,
    RemoveFromBridge,
    StartMoh,
    StopMoh,
)
from switchboard.host import CallHost
from switchboard.outbox import Outbox


class AgentControls:
    """Hold and mute of one call."""

    def __init__(self, call: CallHost) -> None:
        self._call = call

    def __repr__(self) -> str:
        f = self._call.facts
        return f"<AgentControls {f.call_id} held={f.held} muted={f.muted}>"

    def hold(self, agent: acd.AgentId, on: bool, now: float, out: Outbox) -> None:
        """Put the caller on hold (out of the bridge, music on hold) or take it back."""
        call = self._call
        f = call.facts
        refusal = call.transfers.own(agent)
        if refusal is None and call.transfers.live is not None:
            refusal = ("transfer_in_progress", "a transfer is in progress")
        if refusal is not None:
            out.emit(RefuseTransfer(f.call_id, agent, *refusal))
            return
        if f.held == on or f.bridge is None:
            return
        f.held = on
        if on:
            out.emit(RemoveFromBridge(f.call_id, f.bridge, f.caller_channel))
            moh = call.config.queue_media(f.queue).music_on_hold
            out.emit(StartMoh(f.call_id, f.caller_channel, moh))
        else:
            out.emit(StopMoh(f.call_id, f.caller_channel))
            out.emit(AddToBridge(f.call_id, f.bridge, (f.caller_channel,)))
        call.note("caller_held" if on else "caller_unheld", now, out, {}, agent=agent)

    def mute(self, agent: acd.AgentId, on: bool, now: float, out: Outbox) -> None:
        """Mute the agent's leg towards the call, or unmute it."""
        call = self._call
        f = call.facts
        refusal = call.transfers.own(agent)
        if refusal is not None:
            out.emit(RefuseTransfer(f.call_id, agent, *refusal))
            return
        if f.agent_leg is None or f.muted == on:
            return
        f.muted = on
        out.emit(MuteChannel(f.call_id, f.agent_leg, on))
        call.note("agent_muted" if on else "agent_unmuted", now, out, {}, agent=agent)
