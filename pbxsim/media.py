"""Media: playbacks, music on hold, DTMF, live and stored recordings.

A playback answers ``201`` in state ``queued`` and starts right after the
response (``PlaybackStarted``), lasts the configured duration of its media
(``sound:hello-world`` -> ``sound_durations``, else the default), moves to
the next media with ``PlaybackContinuing`` and ends with ``PlaybackFinished``
(state ``done``).  Playbacks on one channel or bridge queue behind each other.

A bridge recording puts a ``Recorder/ARI-...;2`` member into the bridge (the
transcripts show its ``BRIDGEPEER`` side effects, even when the recording
then fails), reports ``RecordingStarted``, and on stop ``RecordingFinished``
with its duration in whole seconds; the WAV file is then written.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from .bridges import BridgeOps
from .errors import AriError
from .model import Channel, LiveRecording, Member, Playback
from .wav import wav_seconds, write_wav

_NAME_OK = re.compile(r"^[^/\\.][^\\]*$")


class MediaOps(BridgeOps):
    recordings_dir: Path
    storage_broken: bool = False

    # -- playbacks -----------------------------------------------------------

    def media_duration(self, uri: str) -> float | None:
        """Simulated seconds a media URI plays (None: until stopped, e.g. ``tone:``)."""
        if uri in self.sound_durations:
            return self.sound_durations[uri]
        scheme, _, name = uri.partition(":")
        if name in self.sound_durations:
            return self.sound_durations[name]
        if scheme == "tone":
            return None
        if scheme == "recording":
            return wav_seconds(self.recordings_dir / f"{name}.wav")
        return self.config.default_sound_duration

    def play(
        self,
        target_uri: str,
        media: list[str],
        playback_id: str | None,
        language: str | None,
        skipms: int = 3000,
    ) -> Playback:
        if not media:
            raise AriError(400, "Missing parameter media")
        ident = playback_id or str(uuid.UUID(int=self.random.getrandbits(128), version=4))
        kind, _, target = target_uri.partition(":")
        channel = self.channels.get(target) if kind == "channel" else None
        # Without lang, a channel's playback speaks the channel's language.
        language = language or (channel.language if channel is not None else "en")
        playback = Playback(ident, list(media), target_uri, language, skipms=skipms)
        self.playbacks[ident] = playback
        queue = self.playback_queue(playback)
        queue.append(ident)
        if len(queue) == 1:
            playback.timer = self.clock.call_later(0, lambda: self.start_playback(playback))
        return playback

    def playback_queue(self, playback: Playback) -> list[str]:
        kind, ident = playback.target
        holder = self.channels.get(ident) if kind == "channel" else self.bridges.get(ident)
        return holder.playback_queue if holder is not None else []

    def playback_apps(self, playback: Playback) -> set[str]:
        kind, ident = playback.target
        if kind == "channel":
            channel = self.channels.get(ident)
            return self.channel_apps(channel) if channel else set()
        bridge = self.bridges.get(ident)
        return self.bridge_apps(bridge) if bridge else set()

    def listeners(self, playback: Playback) -> list[Channel]:
        kind, ident = playback.target
        if kind == "channel":
            return [c for c in [self.channels.get(ident)] if c is not None]
        bridge = self.bridges.get(ident)
        ids = bridge.channel_ids if bridge else []
        return [self.channels[i] for i in ids if i in self.channels]

    def publish(self, playback: Playback, kind: str) -> None:
        self.emit(self.playback_apps(playback), kind, playback=playback.to_json())

    def start_playback(self, playback: Playback) -> None:
        if playback.id not in self.playbacks:
            return
        if playback.state == "canceled":
            # Its turn came after a DELETE: playback_first_update publishes it as done.
            self.stop_playback(playback, "canceled")
            return
        if playback.state == "queued":
            self.play_item(playback)

    def play_item(self, playback: Playback) -> None:
        """One item of the list: ``PlaybackStarted`` naming it, then its media."""
        playback.state = "playing"
        self.publish(playback, "PlaybackStarted")
        uri = playback.media[playback.index]
        if uri.split(":", 1)[0] in ("sound", "recording", "tone"):
            playback.controllable = True
        for channel in self.listeners(playback):
            channel.log.media_played.append(uri)
            channel.log.hear("media", uri)
            self.on_media(channel, uri)
        self.run_item(playback, self.media_duration(uri))

    def run_item(self, playback: Playback, seconds: float | None) -> None:
        if playback.timer is not None:
            playback.timer.cancel()
            playback.timer = None
        if seconds is None:  # a tone plays until stopped
            playback.ends_at = None
            return
        playback.ends_at = self.now() + seconds
        playback.timer = self.clock.call_later(seconds, lambda: self.item_done(playback))

    def item_done(self, playback: Playback) -> None:
        """An item ended: ``PlaybackContinuing`` naming it and the next, or the end."""
        if playback.id not in self.playbacks or playback.state != "playing":
            return
        if playback.index + 1 < len(playback.media):
            playback.state = "continuing"
            self.publish(playback, "PlaybackContinuing")
            playback.index += 1
            self.play_item(playback)
            return
        self.stop_playback(playback)

    def stop_playback(self, playback: Playback, final: str = "done") -> None:
        """End a playback (``PlaybackFinished``, state ``done``, or ``failed`` when the
        channel hung up under it) and start the next queued.  One that never started
        (its bridge went) ends without a word."""
        if self.playbacks.pop(playback.id, None) is None:
            return
        if playback.timer is not None:
            playback.timer.cancel()
        queue = self.playback_queue(playback)
        if playback.id in queue:
            queue.remove(playback.id)
        was_started = playback.state != "queued"
        playback.state = final
        if was_started:
            self.publish(playback, "PlaybackFinished")
        if queue and was_started:
            following = self.playbacks[queue[0]]
            following.timer = self.clock.call_later(0, lambda: self.start_playback(following))

    def delete_playback(self, playback: Playback) -> None:
        """``DELETE /playbacks/{id}``: cancel a queued one (it ends, as done, when its
        turn comes), stop a playing one."""
        if playback.state in ("queued", "canceled"):
            playback.state = "canceled"
            return
        if not playback.controllable:
            raise AriError(500, "Could not stop playback")
        self.stop_playback(playback)

    def control_playback(self, playback: Playback, operation: str) -> None:
        """``POST /playbacks/{id}/control``, by ``res_stasis_playback.c``'s table."""
        state = playback.state
        allowed = {
            "queued": {"restart"},
            "playing": {"restart", "pause", "unpause", "reverse", "forward"},
            "continuing": {"restart", "pause", "unpause", "reverse", "forward"},
            "paused": {"pause", "unpause"},
        }.get(state, set())
        if operation not in allowed:
            raise AriError(409, f"Can only {operation} while media is playing")
        noop = state == "queued" or (operation, state) in (
            ("unpause", "playing"),
            ("unpause", "continuing"),
            ("pause", "paused"),
        )
        if noop:
            return
        if not playback.controllable:
            raise AriError(500, f"Could not {operation} playback")
        now = self.now()
        if operation == "pause":
            playback.state = "paused"  # published, but no event type maps "paused"
            playback.remaining = None if playback.ends_at is None else playback.ends_at - now
            if playback.timer is not None:
                playback.timer.cancel()
                playback.timer = None
        elif operation == "unpause":
            playback.state = "playing"
            self.publish(playback, "PlaybackStarted")
            self.run_item(playback, playback.remaining)
        elif operation == "restart":
            self.run_item(playback, self.media_duration(playback.media[playback.index]))
        elif playback.ends_at is not None:
            step = playback.skipms / 1000.0
            left = playback.ends_at - now
            total = self.media_duration(playback.media[playback.index]) or left
            left = max(0.0, left - step) if operation == "forward" else min(total, left + step)
            self.run_item(playback, left)

    # -- music on hold, hold, DTMF -----------------------------------------

    def start_moh(self, channel: Channel, moh_class: str) -> None:
        channel.moh = moh_class or "default"
        channel.log.moh.append(channel.moh)
        channel.log.hear("moh", channel.moh)

    def stop_moh(self, channel: Channel) -> None:
        if channel.moh is not None:
            channel.log.hear("moh_stop", channel.moh)
        channel.moh = None

    def start_bridge_moh(self, bridge_id: str, moh_class: str) -> None:
        bridge = self.bridge(bridge_id)
        bridge.moh = moh_class or "default"
        for channel_id in bridge.channel_ids:
            channel = self.channels.get(channel_id)
            if channel is not None:
                channel.log.moh.append(bridge.moh)
                channel.log.hear("moh", bridge.moh)

    def stop_bridge_moh(self, bridge_id: str) -> None:
        bridge = self.bridge(bridge_id)
        if bridge.moh is None:
            raise AriError(409, "Bridge isn't playing music")
        bridge.moh = None

    def dtmf_received(self, channel: Channel, digit: str, duration_ms: int = 160) -> None:
        """The far end keyed a digit (RFC 4733 or SIP INFO)."""
        if self.channels.get(channel.id) is not channel or channel.state != "Up":
            return
        channel.log.dtmf_received.append(digit)
        self.ami(
            "DTMFBegin", "dtmf,all", self.ami_channel(channel), Digit=digit, Direction="Received"
        )
        self.emit_channel(channel, "ChannelDtmfReceived", digit=digit, duration_ms=duration_ms)
        self.ami(
            "DTMFEnd",
            "dtmf,all",
            self.ami_channel(channel),
            Digit=digit,
            DurationMs=duration_ms,
            Direction="Received",
        )
        for name in list(channel.recordings):
            recording = self.recordings.get(name)
            if recording and recording.terminate_on in ("any", digit):
                self.finish_recording(recording, "done")

    def on_media(self, channel: Channel, uri: str) -> None:
        """Hook for peer behaviour (overridden by the peers mixin)."""

    def end_media(self, channel: Channel) -> None:
        """A channel is going: its playbacks and recordings end.  Each queued playback
        still starts, to end at once (``play_on_channel`` finds the channel hung up)."""
        for playback_id in list(channel.playback_queue):
            playback = self.playbacks.get(playback_id)
            if playback is None:
                continue
            if playback.state == "canceled":
                self.stop_playback(playback, "canceled")
                continue
            if playback.state == "queued":
                playback.state = "playing"
                self.publish(playback, "PlaybackStarted")
            self.stop_playback(playback, "failed")
        for name in list(channel.recordings):
            recording = self.recordings.get(name)
            if recording is not None:
                self.finish_recording(recording, "done")

    # -- recordings ----------------------------------------------------------

    def stored_path(self, name: str, fmt: str = "wav") -> Path:
        return self.recordings_dir / f"{name}.{fmt}"

    def record(
        self,
        target_uri: str,
        *,
        name: str,
        fmt: str,
        if_exists: str,
        max_duration: int,
        terminate_on: str,
    ) -> LiveRecording:
        if terminate_on not in ("none", "any", "*", "#"):
            raise AriError(400, "terminateOn invalid")
        if if_exists not in ("fail", "overwrite", "append"):
            raise AriError(400, "ifExists invalid")
        if fmt != "wav":
            raise AriError(422, "specified format is unknown on this system")
        if not name or not _NAME_OK.match(name) or ".." in name:
            raise AriError(400, "Recording name invalid")
        exists = name in self.recordings or (
            if_exists == "fail" and self.stored_path(name).exists()
        )
        if exists:
            raise AriError(409, f"Recording '{name}' already exists and can not be overwritten")
        kind, ident = target_uri.partition(":")[::2]
        bridge = self.bridges.get(ident) if kind == "bridge" else None
        if self.storage_broken:
            # The recorder joins and leaves, then the spool directory is missing
            # (transcript record_dir_missing_500).
            if bridge is not None:
                member = self.add_recorder(bridge, self.new_recorder_name())
                self.remove_recorder(bridge, member)
            raise AriError(500, "Internal Server Error")
        recording = LiveRecording(
            name,
            fmt,
            target_uri,
            if_exists=if_exists,
            terminate_on=terminate_on,
            max_duration=max_duration,
        )
        self.recordings[name] = recording
        if bridge is not None:
            bridge.recordings.append(name)
            recording.recorder = self.add_recorder(bridge, self.new_recorder_name())
        elif kind == "channel":
            self.channels[ident].recordings.append(name)
        recording.timer = self.clock.call_later(0, lambda: self.start_recording(recording))
        return recording

    def start_recording(self, recording: LiveRecording) -> None:
        if self.recordings.get(recording.name) is not recording:
            return
        recording.state = "recording"
        recording.started_at = self.now()
        self.emit(self.recording_apps(recording), "RecordingStarted", recording=recording.to_json())
        if recording.max_duration > 0:
            recording.timer = self.clock.call_later(
                recording.max_duration, lambda: self.finish_recording(recording, "done")
            )

    def recording_apps(self, recording: LiveRecording) -> set[str]:
        kind, ident = recording.target
        if kind == "channel":
            channel = self.channels.get(ident)
            return self.channel_apps(channel) if channel else set()
        bridge = self.bridges.get(ident)
        return self.bridge_apps(bridge) if bridge else set()

    def finish_recording(self, recording: LiveRecording, state: str) -> None:
        """Stop (``done``), cancel (``canceled``) or fail a live recording."""
        if self.recordings.pop(recording.name, None) is None:
            return
        if recording.timer is not None:
            recording.timer.cancel()
        started = recording.state == "recording"
        seconds = self.now() - recording.started_at if started else 0.0
        recording.state = state
        path = self.stored_path(recording.name, recording.format)
        if state == "done":
            recording.duration = round(seconds)
            write_wav(path, seconds, append=recording.if_exists == "append")
        apps = self.recording_apps(recording)
        kind = "RecordingFailed" if state == "failed" else "RecordingFinished"
        self.emit(apps, kind, recording=recording.to_json())
        self.detach_recording(recording)

    def detach_recording(self, recording: LiveRecording) -> None:
        kind, ident = recording.target
        if kind == "bridge":
            bridge = self.bridges.get(ident)
            if bridge is not None:
                if recording.name in bridge.recordings:
                    bridge.recordings.remove(recording.name)
                if isinstance(recording.recorder, Member):
                    self.remove_recorder(bridge, recording.recorder)
        else:
            channel = self.channels.get(ident)
            if channel is not None and recording.name in channel.recordings:
                channel.recordings.remove(recording.name)

    def live_recording(self, name: str) -> LiveRecording:
        found = self.recordings.get(name)
        if found is None:
            raise AriError(404, "Recording not found")
        return found

    def stored_recordings(self) -> list[dict[str, str]]:
        """Every recording under the directory, sub-directories included, by name."""
        if not self.recordings_dir.is_dir():
            return []
        found = {}
        for path in self.recordings_dir.rglob("*"):
            if path.is_file() and path.suffix.lstrip(".") in _FORMATS:
                name = path.relative_to(self.recordings_dir).with_suffix("").as_posix()
                found[name] = {"name": name, "format": path.suffix.lstrip(".")}
        return [found[name] for name in sorted(found)]

    def stored_recording(self, name: str) -> Path:
        """The file of a stored recording (``name`` may hold directories); 404 if none,
        or if the name leads out of the recording directory."""
        path = self.find_stored(name)
        if path is None:
            raise AriError(404, "Recording not found")
        return path

    def find_stored(self, name: str) -> Path | None:
        folder, _, file = name.rpartition("/")
        base = self.recordings_dir.resolve()
        directory = (base / folder).resolve() if folder else base
        if not directory.is_relative_to(base) or not file or not directory.is_dir():
            return None
        for fmt in _FORMATS:
            candidate = directory / f"{file}.{fmt}"
            if candidate.is_file():
                return candidate
        return None

    def copy_stored(self, name: str, destination: str) -> dict[str, str]:
        """``POST /recordings/stored/{name}/copy`` (``stasis_app_stored_recording_copy``)."""
        source = self.stored_recording(name)
        target_name = (
            destination.rsplit(".", 1)[0] if "." in destination.rpartition("/")[2] else destination
        )
        if self.find_stored(target_name) is not None:
            raise AriError(409, "A recording with the same name already exists on the system")
        folder, _, file = target_name.rpartition("/")
        base = self.recordings_dir.resolve()
        directory = (base / folder).resolve() if folder else base
        if not file:
            raise AriError(400, "Invalid destination recording name")
        if not directory.is_relative_to(base):
            if directory.is_dir():
                raise AriError(403, "Destination file path is forbidden")
            raise AriError(500, "Copy failed")  # ast_safe_mkdir refuses a path outside
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{file}{source.suffix}").write_bytes(source.read_bytes())
        return {"name": target_name, "format": source.suffix.lstrip(".")}


# File formats Asterisk records and finds by extension (``ast_get_format_for_file_ext``).
_FORMATS = ("wav", "gsm", "ulaw", "alaw", "sln", "sln16", "g722", "wav49")
