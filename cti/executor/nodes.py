"""Several Asterisk nodes: which node each request goes to, and what a lost node means.

Theory of operation
-------------------
Each node is one Asterisk with its own ARI and AMI client (:class:`Node`).
:class:`Nodes` listens to every node's event stream and notes on which node
each channel lives (the stream an event came from says it); the reconciliation
of a node maps every channel it listed to it.  A call lives on its caller's
node: the agent legs, consultee and supervisor legs, snoops, bridges and
recordings of a call are made there (Kamailio carries the legs to phones
registered at it), so every request about a call goes to the node of the
call, and a request about a channel to the node of the channel.  A request of
a call with no caller on any node (an engine-made call) goes to the first node
that is up and not drained, and the call stays there.

A node's reconciliation compares only what lives on that node, so that one
node's listing never makes another node's channels look vanished.

A node whose ARI link stays lost longer than ``lost_after`` seconds is
**down**: its channels are told to the switchboard as vanished with reason
``node_lost`` (the calls end, their agents are freed), and calls go on on
the other nodes.  When the link comes back the node is up again.

A **drained** node (maintenance) takes no new call: a caller arriving there is
hung up with cause ``congestion`` (SIP 503, on which Kamailio's dispatcher
tries the next node), while the calls it holds go on to their end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import structlog

from cti import ami
from cti.ami.frames import AmiMessage
from cti.ari import events as ari
from cti.ari.client import AriClient, AriStreamItem, Reconciled
from cti.ari.reconcile import Known
from cti.engine.pbx import Pbx
from cti.executor.translate import role
from cti.link import Link, LinkState
from switchboard import commands as c
from switchboard import events as ev
from switchboard.ids import BridgeId, CallId, ChannelId

log = structlog.get_logger("cti.nodes")

NODE_LOST = "node_lost"
REFUSE_CAUSE = "congestion"  # SIP 503: Kamailio's dispatcher tries the next node
CALLS_REMEMBERED = 50_000  # calls whose node is remembered after their end (late requests)


_DEVICE_RANKS = {"INUSE": 0, "BUSY": 0, "RINGING": 0, "RINGINUSE": 0, "ONHOLD": 0, "NOT_INUSE": 1}


def _device_rank(state: str) -> int:
    """Busy first, then idle, then unknown, then unreachable."""
    upper = state.strip().upper()
    return _DEVICE_RANKS.get(upper, 3 if upper in ("UNAVAILABLE", "INVALID") else 2)


class NodeState(StrEnum):
    UP = "up"
    DRAINING = "draining"
    DOWN = "down"


@dataclass(eq=False)
class Node:
    """One Asterisk node: its name, its ARI client (and :class:`Pbx`), its AMI client."""

    name: str
    ari: AriClient
    pbx: Pbx
    ami: Any = None  # an AmiClient, or None without AMI
    drained: bool = False
    down: bool = False
    refused: int = 0  # callers refused while drained or down
    lost: int = 0  # times the node was marked down
    _timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    @property
    def state(self) -> NodeState:
        if self.down:
            return NodeState.DOWN
        return NodeState.DRAINING if self.drained else NodeState.UP

    @property
    def link(self) -> Link:
        return self.ari.link


class Host(Protocol):
    """What the nodes need of the engine."""

    def feed(self, event: ev.Event) -> list[c.Command]: ...

    def on_ari(self, item: AriStreamItem, pbx: Pbx | None = None) -> None: ...

    def on_ami(self, event: object, ami: Any = None) -> None: ...

    def known(self) -> Known: ...

    def channels(self) -> frozenset[ChannelId]: ...

    def bridges(self) -> dict[BridgeId, BridgeId]: ...

    def caller_channel(self, call_id: CallId) -> ChannelId | None: ...

    def spawn(self, work: Any) -> None: ...


class UnknownNode(LookupError):
    """No node of that name."""


class Nodes:
    """The nodes of one engine, and the routing of its requests (see the module)."""

    def __init__(self, nodes: Iterable[Node], lost_after: float) -> None:
        self.nodes = list(nodes)
        if not self.nodes:
            raise ValueError("at least one node")
        self.by_name = {node.name: node for node in self.nodes}
        self.lost_after = lost_after
        self.channel_node: dict[ChannelId, Node] = {}
        self.bridge_node: dict[BridgeId, Node] = {}
        self.call_node: dict[CallId, Node] = {}
        self._host: Host | None = None
        self._devices: dict[str, dict[Node, str]] = {}  # each phone's state on each node
        self.listeners: list[Callable[[Node], None]] = []

    def __repr__(self) -> str:
        states = ", ".join(f"{n.name}={n.state}" for n in self.nodes)
        return f"<Nodes {states} channels={len(self.channel_node)}>"

    @property
    def first(self) -> Node:
        return self.nodes[0]

    def attach(self, host: Host) -> None:
        """Feed ``host`` every node's events; reconcile each node against its own channels."""
        self._host = host
        for node in self.nodes:
            node.ari.on_event(functools.partial(self._on_ari, node))
            node.ari.set_known(functools.partial(self.known, node))
            node.link.add_listener(functools.partial(self._moved_link, node))
            if node.ami is not None:
                node.ami.on_event(functools.partial(self._on_ami, node))

    def _on_ami(self, node: Node, event: object) -> None:
        assert self._host is not None
        if isinstance(event, ami.DeviceStateChange):
            state = self.device_state(node, event.device, event.state)
            if state != event.state:
                event = dataclasses.replace(event, state=state)
        self._host.on_ami(event, node.ami)

    def device_state(self, node: Node | Any, device: str, state: str) -> str:
        """A phone's state as ``node`` (or the node of that AMI client) reports it, and the
        state the engine goes by: in use on any node is in use; reachable from any is
        reachable."""
        if not isinstance(node, Node):
            node = next((n for n in self.nodes if n.ami is node), self.first)
        states = self._devices.setdefault(device, {})
        states[node] = state
        return min(states.values(), key=_device_rank)

    def _forget_devices(self, node: Node) -> None:
        """A lost node's phone states no longer count: each phone's state again, from the rest."""
        assert self._host is not None
        for device, states in self._devices.items():
            if states.pop(node, None) is None or not states:
                continue
            state = min(states.values(), key=_device_rank)
            headers = (("Event", "DeviceStateChange"), ("Device", device), ("State", state))
            message = AmiMessage(headers)
            self._host.on_ami(ami.DeviceStateChange(device, state, message), None)

    def _moved_link(self, node: Node, link: Link, old: LinkState, new: LinkState) -> None:
        self._moved(node, new)

    # ------------------------------------------------------------ routing

    def route(self, command: c.Command) -> Pbx:
        """The :class:`Pbx` of the node ``command`` is about; new legs and bridges noted there."""
        node = self._node_of(command)
        # Every leg a command names (an agent's, a consultee's, a supervisor's, one
        # dialled out) belongs to its call, so lives on the call's node.
        leg = getattr(command, "leg", None)
        if isinstance(leg, str) and leg not in self.channel_node:
            self.channel_node[ChannelId(leg)] = node
        match command:
            case c.CreateSnoop():
                self.channel_node[command.snoop] = node
            case c.CreateBridge():
                self.bridge_node[command.bridge] = node
        return node.pbx

    def _node_of(self, command: c.Command) -> Node:
        channel = getattr(command, "channel", None)
        if channel is not None:
            found = self.channel_node.get(channel)
            if found is not None:
                return found
        call_id = getattr(command, "call_id", None)
        if call_id is None:
            return self.serving()
        return self.node_of_call(call_id)

    def node_of_call(self, call_id: CallId) -> Node:
        """The node of the call: its caller's (the first serving node for a call without one)."""
        node = self.call_node.get(call_id)
        if node is not None:
            return node
        caller = self._host.caller_channel(call_id) if self._host is not None else None
        node = self.channel_node.get(caller) if caller is not None else None
        if node is None:
            node = self.serving()
        self.call_node[call_id] = node
        while len(self.call_node) > CALLS_REMEMBERED:
            del self.call_node[next(iter(self.call_node))]
        return node

    def serving(self) -> Node:
        """The first node that takes new calls (the first node when none does)."""
        for node in self.nodes:
            if node.state is NodeState.UP:
                return node
        return self.first

    def known(self, node: Node) -> Known:
        """What the switchboard holds on ``node`` (its reconciliation compares only that)."""
        assert self._host is not None
        everything = self._host.known()
        channels = frozenset(ch for ch in everything.channels if self.channel_node.get(ch) is node)
        bridges = frozenset(
            real
            for bridge, real in self._host.bridges().items()
            if self.bridge_node.get(bridge) is node
        )
        return Known(channels=channels, bridges=bridges)

    # ------------------------------------------------------------ events in

    def _on_ari(self, node: Node, item: AriStreamItem) -> None:
        host = self._host
        assert host is not None
        if isinstance(item, Reconciled):
            for channel_id in item.report.listed_channels:
                self.channel_node[ChannelId(channel_id)] = node
            host.on_ari(item, node.pbx)
            return
        channel = getattr(item, "channel", None)
        if isinstance(item, ari.StasisStart):
            if role(item) == "inbound" and node.state is not NodeState.UP:
                self._refuse(node, ChannelId(item.channel.id))
                return
            self.channel_node[ChannelId(item.channel.id)] = node
        host.on_ari(item, node.pbx)
        if isinstance(item, ari.ChannelDestroyed) and channel is not None:
            self.channel_node.pop(ChannelId(channel.id), None)

    def _refuse(self, node: Node, channel: ChannelId) -> None:
        """A caller arriving on a drained node: 503 to Kamailio, which tries the next node."""
        node.refused += 1
        log.info("node_refused_caller", node=node.name, state=str(node.state))
        assert self._host is not None
        self._host.spawn(node.pbx.hangup(channel, REFUSE_CAUSE))

    # ------------------------------------------------------------ up, down, drained

    def _moved(self, node: Node, new: LinkState) -> None:
        if new is LinkState.RECONNECTING and node._timer is None and not node.down:
            loop = asyncio.get_running_loop()
            node._timer = loop.call_later(self.lost_after, self._lost, node)
            return
        if node._timer is not None:
            node._timer.cancel()
            node._timer = None
        if new is LinkState.CONNECTED and node.down:
            node.down = False
            log.warning("node_up", node=node.name)
            self._changed(node)

    def _lost(self, node: Node) -> None:
        """The node's link stayed lost too long: the node is down, its calls end."""
        node._timer = None
        if node.down or node.link.state is LinkState.CONNECTED:
            return
        node.down = True
        node.lost += 1
        self.mark_lost(node)
        self._changed(node)

    def mark_lost(self, node: Node) -> None:
        """End every call of ``node`` as ``node_lost``; forget its channels and bridges."""
        assert self._host is not None
        held = self._host.channels()
        gone = frozenset(ch for ch, n in self.channel_node.items() if n is node and ch in held)
        for channel in [ch for ch, n in self.channel_node.items() if n is node]:
            del self.channel_node[channel]
        for bridge in [b for b, n in self.bridge_node.items() if n is node]:
            del self.bridge_node[bridge]
        log.error("node_lost", node=node.name, channels=len(gone))
        if gone:
            self._host.feed(ev.ChannelsVanished(gone, end_reason=NODE_LOST))
        self._forget_devices(node)

    def drain(self, name: str, on: bool = True) -> Node:
        """Drain ``name`` (no new calls; those in progress go on), or take it back."""
        node = self.by_name.get(name)
        if node is None:
            raise UnknownNode(name)
        if node.drained != on:
            node.drained = on
            log.warning("node_drained" if on else "node_undrained", node=name)
            self._changed(node)
        return node

    def calls_on(self, node: Node) -> int:
        """How many calls in progress live on ``node``."""
        if self._host is None:
            return 0
        held = self._host.channels()
        return sum(
            1
            for call_id, n in self.call_node.items()
            if n is node and self._host.caller_channel(call_id) in held
        )

    def _changed(self, node: Node) -> None:
        for listener in list(self.listeners):
            listener(node)

    def shutdown(self) -> None:
        for node in self.nodes:
            if node._timer is not None:
                node._timer.cancel()
                node._timer = None

    def view(self) -> list[dict[str, Any]]:
        """Each node's state, for /healthz and the API."""
        return [
            {
                "name": node.name,
                "state": str(node.state),
                "ari": str(node.link.state),
                "ami": str(node.ami.link.state) if node.ami is not None else "absent",
                "calls": self.calls_on(node),
                "refused": node.refused,
                "lost": node.lost,
            }
            for node in self.nodes
        ]
