"""Debian's Chromium, headless, driven over the DevTools protocol, for the HTML report tests.

`chromium` is installed with apt-get when missing (as tests/sshd.py does for openssh-server).
The browser runs with a fresh profile and without background networking, component updates or
sync, so the only requests it makes are the ones a page asks for; every console message,
exception and request of the page is recorded.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

from .debian import binary

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-port=0",
    "--remote-debugging-address=127.0.0.1",
)


def chromium_binary() -> str:
    return binary(CANDIDATES, "chromium")


@dataclass
class Event:
    method: str
    params: dict[str, Any]


@dataclass
class Tab:
    """One page target over its own DevTools WebSocket."""

    ws: websocket.WebSocket
    events: list[Event] = field(default_factory=list)
    _id: int = 0

    def call(self, method: str, timeout: float = 60, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            if "method" in msg:
                self.events.append(Event(msg["method"], msg.get("params", {})))
        raise TimeoutError(method)

    def evaluate(self, expression: str, timeout: float = 60) -> Any:
        """The value of a JavaScript expression (a promise is awaited)."""
        result = self.call(
            "Runtime.evaluate",
            timeout=timeout,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, width: int = 1280, height: int = 900, mobile: bool = False) -> None:
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )
        self.call("Page.navigate", url=url)
        self.evaluate(
            "new Promise(r => document.readyState === 'complete' ? r() : "
            "addEventListener('load', () => r()))"
        )

    def screenshot(self, full_page: bool = False) -> bytes:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": size["height"],
                "scale": 1,
            }
        return base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and log entries of level error."""
        out = []
        for e in self.events:
            if e.method == "Runtime.consoleAPICalled" and e.params["type"] in (
                "error",
                "warning",
                "assert",
            ):
                out.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in e.params["args"])
                )
            elif e.method == "Runtime.exceptionThrown":
                out.append(json.dumps(e.params["exceptionDetails"])[:500])
            elif e.method == "Log.entryAdded" and e.params["entry"]["level"] in (
                "error",
                "warning",
            ):
                out.append(e.params["entry"]["text"])
        return out

    def requests(self) -> list[str]:
        return [
            e.params["request"]["url"]
            for e in self.events
            if e.method == "Network.requestWillBeSent"
        ]


class Chromium:
    """A headless Chromium with a fresh profile in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        profile = directory / "profile"
        profile.mkdir(parents=True)
        log = (directory / "chromium.log").open("ab")
        self.proc = subprocess.Popen(
            [chromium_binary(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.is_file() or not port_file.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = (directory / "chromium.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"chromium did not start: {tail}")
            time.sleep(0.05)
        self.port = int(port_file.read_text().split()[0])

    def tab(self) -> Tab:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT"
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            target = json.loads(reply.read())
        ws = websocket.create_connection(
            target["webSocketDebuggerUrl"], suppress_origin=True, timeout=60
        )
        return Tab(ws)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.dir / "profile")
