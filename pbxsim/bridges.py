"""Bridges: membership, and the variables and connected lines Asterisk updates.

Peer variables follow ``main/bridge.c`` (``set_bridge_peer_vars``) and the
transcripts: in a two-party bridge each side gets ``BRIDGEPEER`` (the other's
name) and ``BRIDGEPVTCALLID`` (the other's SIP Call-ID), the first member
first; with three or more (a recorder counts, as ``Recorder/ARI-...;2``) each
gets the comma-separated names of the others and loses ``BRIDGEPVTCALLID``;
a holding bridge clears both.  Setting a variable always reports it; clearing
reports ``""`` only if it was set.  Members are kept in the order Asterisk
keeps them: a newcomer goes last, except that the one who makes the bridge
multi-party goes first (this reproduces every order in the transcripts).

After a two-party bridge forms, each side's connected line becomes the
other's caller id, with ``ChannelConnectedLine`` only when it changed.
"""

from __future__ import annotations

import uuid

from .channels import ChannelOps
from .errors import AriError
from .model import Bridge, Channel, LiveRecording, Member, Party, Playback, iso_timestamp

BRIDGE_TYPES = {
    "mixing",
    "holding",
    "dtmf_events",
    "proxy_media",
    "video_sfu",
    "video_single",
    "sdp_label",
}


class BridgeOps(ChannelOps):
    def bridge(self, bridge_id: str) -> Bridge:
        found = self.bridges.get(bridge_id)
        if found is None:
            raise AriError(404, "Bridge not found")
        return found

    def create_bridge(self, *, types: str, bridge_id: str | None, name: str) -> Bridge:
        kinds = {t.strip() for t in types.split(",") if t.strip()} or {"mixing"}
        unknown = kinds - BRIDGE_TYPES
        if unknown:
            raise AriError(500, "Unable to create bridge")
        ident = bridge_id or str(uuid.UUID(int=self.random.getrandbits(128), version=4))
        if ident in self.bridges:
            raise AriError(409, f"Bridge with id '{ident}' already exists")
        bridge = Bridge(
            id=ident,
            bridge_type="holding" if "holding" in kinds else "mixing",
            name=name,
            creationtime=iso_timestamp(),
            flags=tuple(sorted(kinds)),
        )
        self.bridges[ident] = bridge
        self.ami("BridgeCreate", "call,all", self.ami_bridge(bridge))
        return bridge

    def ami_bridge(self, bridge: Bridge) -> list[tuple[str, str]]:
        return [
            ("BridgeUniqueid", bridge.id),
            ("BridgeType", "stasis"),
            ("BridgeTechnology", bridge.technology),
            ("BridgeCreator", "Stasis"),
            ("BridgeName", bridge.name),
            ("BridgeNumChannels", str(len(bridge.members))),
            ("BridgeVideoSourceMode", "talker"),
        ]

    def destroy_bridge(self, bridge: Bridge) -> None:
        apps = self.bridge_apps(bridge)
        for recording in [
            self.recordings[n] for n in list(bridge.recordings) if n in self.recordings
        ]:
            self.finish_recording(recording, "done")
        for playback_id in list(bridge.playback_queue):
            self.stop_playback(self.playbacks[playback_id])
        for channel_id in list(bridge.channel_ids):
            channel = self.channels.get(channel_id)
            if channel is not None:
                self.leave_bridge(channel)
        self.bridges.pop(bridge.id, None)
        self.ami("BridgeDestroy", "call,all", self.ami_bridge(bridge))
        explicit = {a for a, app in self.apps.items() if f"bridge:{bridge.id}" in app.sources}
        for app in self.apps.values():
            app.sources.discard(f"bridge:{bridge.id}")
        if apps & explicit:
            self.emit(apps & explicit, "BridgeDestroyed", bridge=bridge.to_json())

    # -- membership --------------------------------------------------------

    def stasis_channels(self, ids: list[str]) -> list[Channel]:
        """The channels of ``addChannel``/``removeChannel``, checked as bridges.c does."""
        ids = [i for i in ids if i]
        if not ids:
            raise AriError(400, "Missing parameter channel")
        found: list[Channel] = []
        for ident in ids:
            channel = self.channels.get(ident)
            if channel is None:
                raise AriError(400, "Channel not found")
            if channel.app is None:
                raise AriError(422, "Channel not in Stasis application")
            found.append(channel)
        return found

    def add_channels(self, bridge: Bridge, ids: list[str], *, role: str, inhibit: bool) -> None:
        channels = self.stasis_channels(ids)
        for channel in channels:
            if channel.bridge == bridge.id:
                continue
            if channel.bridge is not None:
                self.leave_bridge(channel)
            channel.inhibit_connected = inhibit
            if role:
                channel.log.hear("role", role)
            self.join_bridge(channel, bridge)

    def remove_channels(self, bridge: Bridge, ids: list[str]) -> None:
        channels = self.stasis_channels(ids)
        if any(c.bridge != bridge.id for c in channels):
            raise AriError(422, "Channel not in this bridge")
        for channel in channels:
            self.leave_bridge(channel)

    def join_bridge(self, channel: Channel, bridge: Bridge) -> None:
        member = Member(channel.name, channel.protocol_id, channel.id)
        self.insert_member(bridge, member)
        channel.bridge = bridge.id
        channel.log.bridges.append(bridge.id)
        others = [m.name for m in bridge.members if m is not member]
        channel.log.hear("bridge", f"{bridge.id}: {', '.join(others)}")
        self.emit(
            self.channel_apps(channel) | self.bridge_apps(bridge),
            "ChannelEnteredBridge",
            bridge=bridge.to_json(),
            channel=channel.to_json(),
        )
        self.ami("BridgeEnter", "call,all", self.ami_bridge(bridge) + self.ami_channel(channel))
        self.refresh_peer_vars(bridge)
        self.update_connected_lines(bridge)
        if bridge.moh:
            channel.log.moh.append(bridge.moh)
            channel.log.hear("moh", bridge.moh)
        self.on_bridged(channel, bridge)

    def insert_member(self, bridge: Bridge, member: Member) -> None:
        if len(bridge.members) + 1 >= 3:
            bridge.members.insert(0, member)
        else:
            bridge.members.append(member)

    def leave_bridge(self, channel: Channel, *, hangup: bool = False) -> None:
        bridge = self.bridges.get(channel.bridge or "")
        channel.bridge = None
        if bridge is None:
            return
        apps = self.channel_apps(channel) | self.bridge_apps(bridge)
        self.clear_var(channel, "BRIDGEPEER")
        self.clear_var(channel, "BRIDGEPVTCALLID")
        bridge.members = [m for m in bridge.members if m.channel_id != channel.id]
        self.emit(apps, "ChannelLeftBridge", bridge=bridge.to_json(), channel=channel.to_json())
        self.ami("BridgeLeave", "call,all", self.ami_bridge(bridge) + self.ami_channel(channel))
        self.refresh_peer_vars(bridge)
        self.update_connected_lines(bridge)

    def add_recorder(self, bridge: Bridge, name: str) -> Member:
        member = Member(name, "", None)
        self.insert_member(bridge, member)
        self.refresh_peer_vars(bridge)
        return member

    def remove_recorder(self, bridge: Bridge, member: Member) -> None:
        if member in bridge.members:
            bridge.members.remove(member)
            self.refresh_peer_vars(bridge)

    # -- peer variables and connected lines --------------------------------

    def refresh_peer_vars(self, bridge: Bridge) -> None:
        members = bridge.members
        if bridge.bridge_type == "holding":
            for member in members:
                self.bridge_vars(member, None, None)
            return
        if len(members) < 2:
            return
        if len(members) == 2:
            first, last = members
            self.bridge_vars(first, last.name, last.protocol_id)
            self.bridge_vars(last, first.name, first.protocol_id)
            return
        names = [m.name for m in members[:11]]
        for index, member in enumerate(members):
            peers = ",".join(n for i, n in enumerate(names) if i != index)
            self.bridge_vars(member, peers, None)

    def bridge_vars(self, member: Member, peer: str | None, pvtid: str | None) -> None:
        channel = self.channels.get(member.channel_id or "")
        if channel is None:
            return
        for var, value in (("BRIDGEPEER", peer), ("BRIDGEPVTCALLID", pvtid)):
            if value:
                self.set_var(channel, var, value)
            else:
                self.clear_var(channel, var)

    def update_connected_lines(self, bridge: Bridge) -> None:
        if bridge.bridge_type == "holding" or len(bridge.members) != 2:
            return
        pair = [self.channels.get(m.channel_id or "") for m in bridge.members]
        first, last = pair
        if first is None or last is None:
            return
        for channel, other in ((first, last), (last, first)):
            wanted = Party(other.caller.name, other.caller.number)
            if channel.inhibit_connected or channel.connected == wanted:
                continue
            channel.connected = wanted
            self.emit_channel(channel, "ChannelConnectedLine")
            self.ami("NewConnectedLine", "call,all", self.ami_channel(channel))

    def two_party_peer(self, channel: Channel) -> Channel | None:
        bridge = self.bridges.get(channel.bridge or "")
        if bridge is None or len(bridge.members) != 2:
            return None
        other = next(m for m in bridge.members if m.channel_id != channel.id)
        return self.channels.get(other.channel_id or "")

    def on_bridged(self, channel: Channel, bridge: Bridge) -> None:
        """Hook for peer behaviour (overridden by the peers mixin)."""

    # Provided by the media mixin.
    def finish_recording(self, recording: LiveRecording, state: str) -> None:
        raise NotImplementedError

    def stop_playback(self, playback: Playback) -> None:
        raise NotImplementedError
