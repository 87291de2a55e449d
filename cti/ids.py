"""Identifiers shared across the engine: the switchboard's own (:mod:`switchboard.ids`).

Each is a ``NewType`` over ``str`` so that a channel id cannot be passed where
a bridge id is expected without the type checker noticing, while costing
nothing at run time.  The values are whatever Asterisk (or the engine, for
ids it chooses itself such as ``channelId`` on originate) puts on the wire.
The shell and the switchboard speak of the same ids, so they are one set of
types: ``ChannelId`` (an ARI channel id, ``1795302787.8`` or one the engine
chose), ``BridgeId``, ``PlaybackId``, ``RecordingName`` and ``CallId`` (one
citizen call, kept through every transfer; ``HOTLINE_CALL_ID`` on the
caller's channel).
"""

from __future__ import annotations

from switchboard.ids import BridgeId, CallId, ChannelId, PlaybackId, RecordingName

__all__ = ["BridgeId", "CallId", "ChannelId", "PlaybackId", "RecordingName"]
