"""Support for the faces tests: role tokens, a Prometheus text parser, a headless Chromium.

``ROLE_TOKENS`` are set in the environment (the engine reads them when the
application is built) by :func:`role_env`.  :func:`parse_exposition` is a
strict reader of the Prometheus text format: it fails on anything a
Prometheus server would refuse.  :class:`Chromium` starts Debian's
Chromium headless with a fresh profile and drives one page over the
DevTools protocol (a WebSocket, spoken with aiohttp).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import itertools
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"

ROLE_TOKENS = {
    "supervisor": "sup-7f3a9c",
    "quality_inspector": "qi-2b8e41",
    "admin": "adm-c04d77",
    "wallboard": "wb-91e5aa",
}
ROLE_ENV = {
    "supervisor": "HOTLINE_SUPERVISOR_TOKEN",
    "quality_inspector": "HOTLINE_INSPECTOR_TOKEN",
    "admin": "HOTLINE_ADMIN_TOKEN",
    "wallboard": "HOTLINE_WALLBOARD_TOKEN",
}


def role_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Configure one named token per role; returns role -> token."""
    for role, variable in ROLE_ENV.items():
        monkeypatch.setenv(variable, f"{role}-one:{ROLE_TOKENS[role]}")
    return dict(ROLE_TOKENS)


class Live:
    """A client of the engine's live sockets, with deadlines on every wait."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            msg = await self.ws.receive()
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"socket ended: {msg.type} {self.ws.close_code}")
        data: dict[str, Any] = json.loads(msg.data)
        self.seen.append(data)
        return data

    async def until(self, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
        """The first message (from now) that satisfies ``predicate``."""
        async with asyncio.timeout(timeout):
            while True:
                data = await self.next(timeout)
                if predicate(data):
                    return data


@asynccontextmanager
async def live(http: aiohttp.ClientSession, url: str, token: str) -> AsyncIterator[Live]:
    async with http.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"type": "auth", "token": token}))
        yield Live(ws)


async def eventually(check: Any, timeout: float = 5.0, every: float = 0.05) -> Any:
    """Await ``check()`` until it returns a truthy value; fail at the deadline."""
    async with asyncio.timeout(timeout):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(every)  # polling under a deadline


# -- Prometheus text format ------------------------------------------------------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^({_NAME})(\{{(.*)\}})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


@dataclass
class Family:
    name: str
    kind: str
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def value(self, **labels: str) -> float:
        found = [v for n, lab, v in self.samples if n == self.name and lab == labels]
        assert len(found) == 1, f"{self.name}{labels}: {found}"
        return found[0]


def _float(text: str) -> float:
    if text in ("+Inf", "-Inf", "NaN"):
        return {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}[text]
    return float(text)


def _labels(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        assert m is not None, f"bad labels {text!r} at {pos}"
        name, raw = m.group(1), m.group(2)
        assert name not in out, f"label {name} twice"
        out[name] = raw.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        pos = m.end()
    return out


def parse_exposition(text: str) -> dict[str, Family]:
    """Families by name; asserts the format (HELP/TYPE first, one family once, histograms)."""
    assert text.endswith("\n"), "the exposition ends with a line feed"
    families: dict[str, Family] = {}
    current: Family | None = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in families, f"family {name} twice"
            current = Family(name, "", help_text)
            families[name] = current
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert current is not None and current.name == name, f"TYPE without HELP: {line}"
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), kind
            current.kind = kind
        elif line.startswith("#") or not line:
            continue
        else:
            m = _SAMPLE.match(line)
            assert m is not None, f"bad sample line {line!r}"
            name, labels, value = m.group(1), _labels(m.group(3) or ""), _float(m.group(4))
            assert current is not None, f"sample before any family: {line}"
            allowed = {current.name}
            if current.kind == "histogram":
                allowed = {f"{current.name}_{s}" for s in ("bucket", "sum", "count")}
            assert name in allowed, f"{name} inside family {current.name}"
            current.samples.append((name, labels, value))
    for family in families.values():
        assert family.kind, f"{family.name} has no TYPE"
        if family.kind == "counter":
            assert family.name.endswith("_total"), family.name
            assert all(v >= 0 for _, _, v in family.samples), family.name
        if family.kind == "histogram":
            _check_histogram(family)
    return families


def _check_histogram(family: Family) -> None:
    buckets = [(lab, v) for n, lab, v in family.samples if n.endswith("_bucket")]
    assert buckets and buckets[-1][0]["le"] == "+Inf", f"{family.name}: no +Inf bucket"
    bounds = [_float(lab["le"]) for lab, _ in buckets]
    assert bounds == sorted(bounds), f"{family.name}: buckets out of order"
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), f"{family.name}: buckets are not cumulative"
    (count,) = [v for n, _, v in family.samples if n.endswith("_count")]
    assert count == counts[-1], f"{family.name}: _count differs from the +Inf bucket"


# -- Chromium over the DevTools protocol --------------------------------------------------


class CdpError(Exception):
    pass


def _listening(port_file: Path) -> bool:
    return port_file.exists() and len(port_file.read_text().splitlines()) >= 2


def _installed() -> bool:
    return os.path.exists(CHROMIUM)


class Chromium:
    """One headless Chromium and one page in it (see the module docstring)."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.profile = Path(tempfile.mkdtemp(prefix="faces-chromium-"))
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.session: str | None = None
        self.console: list[str] = []
        self.exceptions: list[str] = []

    async def start(self) -> Chromium:
        self.process = await asyncio.create_subprocess_exec(
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--remote-debugging-port=0",
            f"--user-data-dir={self.profile}",
            "--window-size=1920,1080",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        port_file = self.profile / "DevToolsActivePort"
        async with asyncio.timeout(20):
            while not _listening(port_file):  # noqa: ASYNC110 - Chromium writes it once it listens
                await asyncio.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        target = await self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = await self.send(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            session=False,
        )
        self.session = attached["sessionId"]
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False},
        )
        return self

    async def new_tab(self) -> Chromium:
        """Another page of the same browser (its own sessionStorage), driven through this
        one's connection: use it like this one, but stop only this one."""
        target = await self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = await self.send(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            session=False,
        )
        tab = copy.copy(self)
        tab.session = attached["sessionId"]
        await tab.send("Page.enable")
        await tab.send("Runtime.enable")
        return tab

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(10):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            future = self._pending.pop(data.get("id", -1), None)
            if future is not None and not future.done():
                if "error" in data:
                    future.set_exception(CdpError(json.dumps(data["error"])))
                else:
                    future.set_result(data.get("result", {}))
            elif data.get("method") == "Runtime.consoleAPICalled":
                args = data["params"].get("args", [])
                self.console.append(" ".join(str(a.get("value", "")) for a in args))
            elif data.get("method") == "Runtime.exceptionThrown":
                self.exceptions.append(json.dumps(data["params"]["exceptionDetails"])[:500])
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CdpError("the browser closed the connection"))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = True
    ) -> Any:
        assert self._ws is not None
        msg_id = next(self._ids)
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        await self._ws.send_str(json.dumps(message))
        async with asyncio.timeout(15):
            return await future

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})
        await self.wait_for("document.readyState === 'complete'")

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CdpError(json.dumps(result["exceptionDetails"])[:500])
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 5.0) -> Any:
        """Evaluate ``expression`` until it is truthy; fail at the deadline."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    value = await self.evaluate(expression)
                    if value:
                        return value
                    await asyncio.sleep(0.03)  # polling the page under a deadline
        except TimeoutError:
            raise AssertionError(f"page never satisfied: {expression}") from None

    async def key(self, key: str, code: str | None = None, key_code: int = 0) -> None:
        """Press and release one key (``Enter``, ``Tab``, ``F2``, ``3`` ...)."""
        params: dict[str, Any] = {
            "key": key,
            "code": code or key,
            "windowsVirtualKeyCode": key_code,
            "nativeVirtualKeyCode": key_code,
        }
        if key == "Enter":
            params["text"] = "\r"
        elif len(key) == 1:
            params["text"] = key
        await self.send("Input.dispatchKeyEvent", {"type": "keyDown", **params})
        params.pop("text", None)
        await self.send("Input.dispatchKeyEvent", {"type": "keyUp", **params})

    async def type(self, text: str) -> None:
        await self.send("Input.insertText", {"text": text})

    async def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        path = ARTIFACTS / name
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


F_KEYS = {"F2": 113, "F3": 114, "F4": 115, "F6": 117, "F9": 120}
KEY_CODES = {"Enter": 13, "Tab": 9, "Escape": 27, **F_KEYS}


async def press(browser: Chromium, key: str) -> None:
    """Press a named key (``Enter``, ``Tab``, ``F2`` ...) or a digit."""
    code = KEY_CODES.get(key, ord(key) if len(key) == 1 else 0)
    dom_code = f"Digit{key}" if key.isdigit() else key
    await browser.key(key, dom_code, code)


async def keyboard_login(
    page: Chromium, agent: str, seat: str, *, pin: str | None = None, timeout: float = 5.0
) -> None:
    """On the toolbar's login form (its first field focused once the page is up): the
    agent number, Tab, the PIN (the agent's number in the shipped config), Tab, the
    seat, Enter, by keyboard only."""
    await page.wait_for("document.activeElement.id === 'login-agent'", timeout)
    await page.type(agent)
    await press(page, "Tab")
    await page.type(pin if pin is not None else agent)
    await press(page, "Tab")
    await page.type(seat)
    await press(page, "Enter")


@asynccontextmanager
async def chromium() -> AsyncIterator[Chromium]:
    assert _installed(), "Debian's chromium is missing: tools/bootstrap.sh --test"
    browser = Chromium()
    try:
        await browser.start()
        yield browser
    finally:
        await browser.stop()
