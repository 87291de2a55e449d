"""Compare what the engine believes with what Asterisk has (pure, no I/O).

After every (re)connection of the event WebSocket the client lists the
channels (``GET /channels``), the bridges (``GET /bridges``) and the
application (``GET /applications/{app}``), and compares them with the ids the
engine says it knows:

* ``present``: known and still there (calls that survived the cut, as
  ``engine_ws_drop_and_return.jsonl`` shows Asterisk keeps them);
* ``vanished``: known but gone (hung up while the events were not flowing);
  the engine must end them as if their ``StasisEnd``/``ChannelDestroyed``
  had arrived;
* ``unknown``: in the application but not known (left by an earlier engine
  run); the engine adopts them (reading ``HOTLINE_CALL_ID``) or ends them.

A known channel counts as present when ``GET /channels`` lists it, whether or
not it has entered the application yet (an agent leg still ringing is
``Down`` and outside Stasis until it answers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cti.ari.models import Application, Bridge, Channel
from cti.ids import BridgeId, ChannelId

Id = TypeVar("Id", bound=str)


@dataclass(frozen=True, slots=True)
class Known:
    """The ids the engine holds state for."""

    channels: frozenset[ChannelId] = frozenset()
    bridges: frozenset[BridgeId] = frozenset()


@dataclass(frozen=True, slots=True)
class Reconciliation(Generic[Id]):
    """One kind of resource compared: ``present``, ``vanished``, ``unknown``."""

    present: frozenset[Id]
    vanished: frozenset[Id]
    unknown: frozenset[Id]

    @property
    def clean(self) -> bool:
        """Nothing vanished and nothing unknown."""
        return not self.vanished and not self.unknown


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """Channels and bridges compared, with what Asterisk listed (to adopt
    unknown ones or rebuild present ones)."""

    channels: Reconciliation[ChannelId]
    bridges: Reconciliation[BridgeId]
    application: Application
    listed_channels: Mapping[ChannelId, Channel] = field(default_factory=dict)
    listed_bridges: Mapping[BridgeId, Bridge] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return self.channels.clean and self.bridges.clean


def compare(known: Iterable[Id], listed: Iterable[Id], owned: Iterable[Id]) -> Reconciliation[Id]:
    """``known`` by the engine, ``listed`` by Asterisk, ``owned`` by the application."""
    known_set = frozenset(known)
    listed_set = frozenset(listed)
    return Reconciliation(
        present=known_set & listed_set,
        vanished=known_set - listed_set,
        unknown=(frozenset(owned) & listed_set) - known_set,
    )


def reconcile(
    known: Known,
    channels: Iterable[Channel],
    bridges: Iterable[Bridge],
    application: Application,
) -> ReconcileReport:
    listed_channels = {channel.id: channel for channel in channels}
    listed_bridges = {bridge.id: bridge for bridge in bridges}
    return ReconcileReport(
        channels=compare(known.channels, listed_channels, application.channel_ids),
        bridges=compare(known.bridges, listed_bridges, application.bridge_ids),
        application=application,
        listed_channels=listed_channels,
        listed_bridges=listed_bridges,
    )
