"""SIPp as the citizens, the seat phones and the parallel hotline of the tier.

Each SIPp is a real SIP user agent from Debian's ``sip-tester`` package,
started from a scenario template in ``tests/asterisk/sipp/`` (a
``string.Template``: the ``$fields`` are filled here; SIPp's own
``[keywords]`` are left alone).

* :func:`call` places calls from the carrier's address (``caller.xml``);
* :class:`Phone` is a seat phone: it registers as its PJSIP endpoint with
  ``register.xml``, then a second SIPp on the same port answers, declines
  or ignores the INVITEs Asterisk sends it (``agent_*.xml``);
* :func:`answering_peer` plays the 12319 centre behind its own trunk;
* :func:`citizen_phone` is a citizen the hotline calls through the carrier
  trunk (``citizen.xml``), answering and pressing keys as RFC 4733 events.

SIPp's exit status says whether every call followed its scenario: 0 is
success, 1 means at least one call failed.  Every run keeps its screen,
message and error logs in the test's directory, named after the role.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

SCENARIOS = Path(__file__).resolve().parent / "sipp"
CALLER_NAME = "张三市民"
CALLER_NUMBER = "13800138000"


def _alaw(sample: int) -> int:
    """G.711 A-law code of one signed 16-bit linear sample."""
    magnitude = sample >> 3  # A-law encodes 13 bits
    mask = 0xD5
    if magnitude < 0:
        mask = 0x55
        magnitude = -magnitude - 1
    segment = 0
    while segment < 8 and magnitude > (0x20 << segment) - 1:
        segment += 1
    if segment >= 8:
        return 0x7F ^ mask
    shift = 1 if segment < 2 else segment
    return ((segment << 4) | ((magnitude >> shift) & 0x0F)) ^ mask


def write_alaw_wav(source: Path, out: Path) -> Path:
    """Convert an 8 kHz 16-bit mono WAV (a shipped prompt) to an A-law WAV for SIPp."""
    with wave.open(str(source), "rb") as pcm:
        if (pcm.getframerate(), pcm.getsampwidth(), pcm.getnchannels()) != (8000, 2, 1):
            raise ValueError(f"{source}: not 8 kHz 16-bit mono")
        frames = pcm.readframes(pcm.getnframes())
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    data = bytes(_alaw(s) for s in samples)
    fmt = struct.pack("<HHIIHHH", 6, 1, 8000, 8000, 1, 8, 0)  # WAVE_FORMAT_ALAW
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    riff += b"data" + struct.pack("<I", len(data)) + data
    out.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    return out


class SippFailed(Exception):
    """A SIPp run ended with calls that did not follow the scenario."""


def sipp_binary() -> str | None:
    return shutil.which("sipp")


def render(template: str, out: Path, **fields: object) -> Path:
    """Fill ``sipp/<template>`` with ``fields`` into ``out``."""
    text = Template((SCENARIOS / template).read_text(encoding="utf-8"))
    out.write_text(text.substitute({k: str(v) for k, v in fields.items()}), encoding="utf-8")
    return out


@dataclass
class Sipp:
    """One running SIPp process."""

    role: str
    workdir: Path
    process: asyncio.subprocess.Process
    args: list[str] = field(repr=False)

    @classmethod
    async def start(cls, role: str, workdir: Path, scenario: Path, *args: str) -> Sipp:
        argv = [
            "sipp",
            "-sf",
            str(scenario),
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-nostdin",
            "-trace_msg",
            "-message_file",
            str(workdir / f"{role}.messages.log"),
            "-trace_err",
            "-error_file",
            str(workdir / f"{role}.errors.log"),
            *args,
        ]
        screen = (workdir / f"{role}.screen.log").open("ab")
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=screen, stderr=asyncio.subprocess.STDOUT
        )
        screen.close()
        return cls(role, workdir, process, argv)

    async def wait(self, timeout: float) -> int:
        """The exit status, waiting at most ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            return await self.process.wait()

    async def expect_success(self, timeout: float) -> None:
        """Wait for the end; :class:`SippFailed` unless every call succeeded."""
        status = await self.wait(timeout)
        if status != 0:
            raise SippFailed(f"{self.role}: sipp exited {status}\n{self.diagnostics()}")

    def messages(self) -> str:
        """The SIP messages this SIPp sent and received so far."""
        path = self.workdir / f"{self.role}.messages.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def received(self, first_line_prefix: str) -> int:
        """How many received messages start with ``first_line_prefix`` (e.g. ``INVITE``)."""
        count = 0
        for block in self.messages().split("-" * 47 + " ")[1:]:
            # <timestamp> / "UDP message received [316] bytes :" / "" / <start line>
            lines = block.split("\n")
            if len(lines) > 1 and "message received" in lines[1]:
                start = next((line for line in lines[2:] if line.strip()), "")
                if start.startswith(first_line_prefix):
                    count += 1
        return count

    async def wait_for_received(self, first_line_prefix: str, count: int, timeout: float) -> None:
        """Wait until ``count`` messages starting with ``first_line_prefix`` arrived."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if self.received(first_line_prefix) >= count:
                        return
                    await asyncio.sleep(0.1)  # SIPp's message log is the only signal
        except TimeoutError:
            raise SippFailed(
                f"{self.role}: {self.received(first_line_prefix)} {first_line_prefix} "
                f"received, expected {count}\n{self.diagnostics()}"
            ) from None

    def diagnostics(self) -> str:
        parts = []
        for suffix in ("errors", "screen"):
            path = self.workdir / f"{self.role}.{suffix}.log"
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace")
                parts.append(f"--- {path.name}\n" + "\n".join(text.splitlines()[-40:]))
        return "\n".join(parts)

    async def stop(self) -> None:
        """Terminate if still running."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                async with asyncio.timeout(5):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def call(
    workdir: Path,
    *,
    sip_port: int,
    source_port: int,
    dialled: str = "12345",
    role: str = "caller",
    calls: int = 1,
    rate: float | None = None,
    caller_name: str = CALLER_NAME,
    caller_number: str = CALLER_NUMBER,
    wait_ms: int = 30_000,
    then: str = "hangup",
    digit: str = "1",
    max_presses: int = 20,
    extra_header: str = "",
    audio: Path | None = None,
) -> Sipp:
    """Start a caller SIPp from the carrier's port: ``calls`` INVITEs to ``dialled``.

    See ``sipp/caller.xml`` for ``wait_ms`` / ``then`` / ``digit``.  With
    ``audio`` (an A-law WAV, see :func:`write_alaw_wav`) the caller speaks:
    SIPp streams it in a loop once answered.
    """
    start_media = ""
    media_port = "[media_port]"
    if audio is not None:
        media_port = "[rtpstream_audio_port]"
        start_media = f'  <nop><action><exec rtp_stream="{audio},-1,8"/></action></nop>\n'
    if then not in ("hangup", "press"):
        raise ValueError(f"then must be 'hangup' or 'press', not {then!r}")
    scenario = render(
        "caller.xml",
        workdir / f"{role}.xml",
        caller_name=caller_name,
        caller_number=caller_number,
        extra_header=f"\n      {extra_header}" if extra_header else "",
        wait_ms=wait_ms,
        then=then,
        digit=digit,
        max_presses=max_presses,
        media_port=media_port,
        start_media=start_media,
    )
    args = ["-s", dialled, "-p", str(source_port), "-m", str(calls)]
    if rate is not None:
        args += ["-r", str(rate)]
    else:
        args += ["-r", "1", "-rp", "100"]
    args.append(f"127.0.0.1:{sip_port}")
    return await Sipp.start(role, workdir, scenario, *args)


@dataclass
class Phone:
    """A seat phone: PJSIP endpoint ``endpoint`` on UDP ``port``."""

    endpoint: str
    port: int
    workdir: Path
    sip_port: int
    password: str = ""
    uas: Sipp | None = None
    challenged: bool = True  # False: a registrar that does not challenge (Kamailio's)

    def __post_init__(self) -> None:
        if not self.password:
            # The placeholder that `hotline render-asterisk-conf` writes.
            self.password = f"change-me-{self.endpoint}"

    async def register(self, expires: int = 300, timeout: float = 15.0) -> None:
        """REGISTER with digest authentication (without, at a registrar that does not
        challenge: ``challenged`` false); raises unless 200 OK."""
        role = f"register-{self.endpoint}-{expires}"
        template = "register.xml" if self.challenged else "register_open.xml"
        scenario = render(
            template, self.workdir / f"{role}.xml", user=self.endpoint, expires=expires
        )
        credentials = ["-au", self.endpoint, "-ap", self.password] if self.challenged else []
        sipp = await Sipp.start(
            role,
            self.workdir,
            scenario,
            "-p",
            str(self.port),
            *credentials,
            "-m",
            "1",
            f"127.0.0.1:{self.sip_port}",
        )
        await sipp.expect_success(timeout)

    async def serve(self, behaviour: str, *, ring_ms: int = 1000, talk_ms: int = 60_000) -> Sipp:
        """Answer INVITEs on the registered port: ``answer``, ``busy`` or ``noanswer``."""
        if self.uas is not None:
            await self.uas.stop()
        templates = {
            "answer": "agent_answer.xml",
            "busy": "agent_busy.xml",
            "noanswer": "agent_noanswer.xml",
        }
        role = f"phone-{self.endpoint}-{behaviour}"
        scenario = render(
            templates[behaviour], self.workdir / f"{role}.xml", ring_ms=ring_ms, talk_ms=talk_ms
        )
        self.uas = await Sipp.start(
            role, self.workdir, scenario, "-p", str(self.port), "-aa", "-bind_local"
        )
        return self.uas

    async def close(self) -> None:
        """Stop answering and unregister (best effort)."""
        if self.uas is not None:
            await self.uas.stop()
            self.uas = None
        with contextlib.suppress(SippFailed, TimeoutError):
            await self.register(expires=0, timeout=5.0)


async def answering_peer(
    workdir: Path, *, port: int, role: str = "hotline-12319", talk_ms: int = 60_000
) -> Sipp:
    """A SIP peer at ``port`` that answers every INVITE at once (the 12319 centre)."""
    scenario = render("agent_answer.xml", workdir / f"{role}.xml", ring_ms=0, talk_ms=talk_ms)
    return await Sipp.start(role, workdir, scenario, "-p", str(port), "-aa", "-bind_local")


DTMF_PCAPS = Path("/usr/share/sip-tester")  # SIPp's RTP telephone-event captures


async def citizen_phone(
    workdir: Path,
    *,
    port: int,
    role: str = "citizen",
    ring_ms: int = 1000,
    wait_ms: int = 60_000,
    then: str = "hangup",
    digit: str = "1",
    max_presses: int = 20,
) -> Sipp:
    """A citizen's phone at the carrier's ``port``, answering the hotline's calls.

    See ``sipp/citizen.xml``: it rings ``ring_ms``, answers, and after
    ``wait_ms`` hangs up (``then="hangup"``) or presses ``digit`` once a
    second as RFC 4733 telephone events (``then="press"``).  It runs until
    stopped: the trunk's qualify (OPTIONS, answered by ``-aa``) counts as a
    call of SIPp's, so no call limit can say when it is done; wait for the
    messages instead (:func:`hung_up_on`).
    """
    if then not in ("hangup", "press"):
        raise ValueError(f"then must be 'hangup' or 'press', not {then!r}")
    name = {"*": "star", "#": "pound"}.get(digit, digit)
    pcap = DTMF_PCAPS / f"dtmf_2833_{name}.pcap"
    if then == "press" and not pcap.is_file():
        raise SippFailed(f"{pcap} missing: Debian's sip-tester ships the RFC 4733 captures")
    scenario = render(
        "citizen.xml",
        workdir / f"{role}.xml",
        ring_ms=ring_ms,
        wait_ms=wait_ms,
        then=then,
        digit_pcap=pcap,
        max_presses=max_presses,
    )
    return await Sipp.start(role, workdir, scenario, "-p", str(port), "-aa", "-bind_local")


def answered_requests(sipp: Sipp, method: str) -> int:
    """How many ``method`` requests (by their CSeq) ``sipp`` answered with a 200 it sent."""
    count = 0
    for block in sipp.messages().split("-" * 47 + " ")[1:]:
        lines = block.split("\n")
        if len(lines) > 1 and "message sent" in lines[1]:
            message = "\n".join(lines[2:]).strip()
            if message.startswith("SIP/2.0 200") and header(message, "CSeq").endswith(method):
                count += 1
    return count


async def hung_up_on(sipp: Sipp, timeout: float) -> None:
    """Wait until ``sipp`` received a BYE and answered it (the call ended by the far end)."""
    await sipp.wait_for_received("BYE", count=1, timeout=timeout)
    async with asyncio.timeout(5):
        while True:
            if answered_requests(sipp, "BYE"):
                return
            await asyncio.sleep(0.1)  # SIPp's message log is the only signal


def first_message(sipp: Sipp, direction: str, first_line_prefix: str) -> tuple[dt.datetime, str]:
    """When and what: the first message ``sipp`` logged as ``direction`` (``received`` or
    ``sent``) whose start line begins with ``first_line_prefix``."""
    for block in sipp.messages().split("-" * 47 + " ")[1:]:
        lines = block.split("\n")
        if len(lines) > 1 and f"message {direction}" in lines[1]:
            message = "\n".join(lines[2:]).strip()
            if message.startswith(first_line_prefix):
                return dt.datetime.fromisoformat(lines[0].strip()), message
    raise SippFailed(f"{sipp.role}: no {first_line_prefix} {direction}\n{sipp.diagnostics()}")


def received_message(sipp: Sipp, first_line_prefix: str) -> str:
    """The first message ``sipp`` received whose start line begins with ``first_line_prefix``."""
    return first_message(sipp, "received", first_line_prefix)[1]


def header(message: str, name: str) -> str:
    """The value of the first header ``name`` (case-insensitive) of a SIP message."""
    for line in message.split("\n")[1:]:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == name.lower():
            return value.strip()
        if not line.strip():
            break
    raise AssertionError(f"no {name} header in:\n{message}")
