"""
A real headless Chromium (Debian's) driven over the Chrome DevTools protocol, shared by the browser tests.

``chromium_path()`` finds the browser (installing it with ``scripts/install-browser.sh`` when missing and
running as root, as in CI); :class:`Browser` opens one page at a given size and drives it: navigate and
wait (through redirects), evaluate JavaScript, click, type and drag with real input events, collect the
console's errors, take screenshots.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1400,1000",
]


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a process a test started (in its own session) by its id: SIGTERM its group, SIGKILL after 15 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def chromium_path() -> str:
    """Debian's chromium, installed by scripts/install-browser.sh when missing (as root, as in CI)."""
    if not shutil.which("chromium"):
        if os.geteuid() != 0:
            pytest.skip("chromium is not installed and installing it needs root: run scripts/install-browser.sh")
        done = subprocess.run(["bash", str(ROOT / "scripts" / "install-browser.sh")], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    path = shutil.which("chromium")
    assert path, "scripts/install-browser.sh did not install chromium"
    return path


class DevToolsError(AssertionError):
    """Chromium answered a DevTools call with an error."""


# Errors of a JavaScript evaluation that races a navigation (a redirect, a login): try again.
_NAVIGATING = ("Inspected target navigated or closed", "Execution context was destroyed", "Cannot find context")


class Browser:
    """
    A headless Chromium page driven over the Chrome DevTools protocol; keeps the console's messages.

    :param width: the page's width in CSS pixels (screenshots are taken at it).
    :param height: the viewport's height.
    """

    def __init__(self, executable: str, profile: Path, width: int = 1400, height: int = 1000) -> None:
        from websockets.sync.client import connect

        self.width, self.height = width, height
        profile.mkdir(parents=True, exist_ok=True)
        port_file = profile / "DevToolsActivePort"
        port_file.unlink(missing_ok=True)  # a reused profile's is stale
        flags = [f for f in CHROMIUM_FLAGS if not f.startswith("--window-size=")] + [f"--window-size={width},{height}"]
        self.proc = subprocess.Popen(
            [executable, *flags, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=(profile / "chromium.log").open("w"),
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not (port_file.exists() and port_file.read_text().strip()):
                assert self.proc.poll() is None, (profile / "chromium.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "chromium did not open its DevTools port"
                time.sleep(0.1)
            port = port_file.read_text().split()[0]
            pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
            page = next(t for t in pages if t["type"] == "page")
            self.ws = connect(page["webSocketDebuggerUrl"], max_size=64 * 2**20, open_timeout=10)
            self._id = 0
            self.events: list[dict] = []
            self.call("Log.enable")
            self.call("Runtime.enable")
            self.resize(width, height)
        except BaseException:
            stop_process(self.proc)  # no browser left behind by a failed start
            raise

    def call(self, method: str, **params):
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise DevToolsError(method, msg["error"])
                return msg["result"]
            if "method" in msg:
                self.events.append(msg)

    def problems(self) -> list[str]:
        """Console errors, CSP refusals and uncaught exceptions seen so far (then forgotten)."""
        found = []
        for e in self.events:
            if e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error":
                found.append(e["params"]["entry"]["text"])
            elif e["method"] == "Runtime.exceptionThrown":
                found.append(json.dumps(e["params"]["exceptionDetails"])[:500])
            elif e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error":
                found.append(json.dumps(e["params"]["args"])[:500])
        self.events.clear()
        return found

    def resize(self, width: int, height: int) -> None:
        """Lay the page out at ``width`` x ``height`` CSS pixels from now on (screenshots too)."""
        self.width, self.height = width, height
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise DevToolsError(result["exceptionDetails"])
        return result["result"].get("value")

    def open(self, url: str, ready: str = "true", timeout: float = 30, same_url: bool = True) -> None:
        """Go to ``url`` and wait until the page is loaded (still at ``url``) and the JS condition ``ready`` holds."""
        self.call("Page.navigate", url=url)
        self.wait(f"location.href === {json.dumps(url)} && ({ready})" if same_url else ready, timeout)

    def wait(self, condition: str, timeout: float = 30) -> None:
        """Wait until the page is loaded and the JS ``condition`` holds (across navigations and redirects)."""
        deadline = time.monotonic() + timeout
        while not self._holds(f"document.readyState === 'complete' && ({condition})"):
            assert time.monotonic() < deadline, f"not ready at {self.js('location.href')}: {condition}"
            time.sleep(0.1)

    def _holds(self, condition: str) -> bool:
        try:
            return bool(self.js(condition))
        except DevToolsError as err:
            if any(text in str(err) for text in _NAVIGATING):
                return False
            raise

    def mouse(self, kind: str, x: float, y: float, button: str = "none") -> None:
        self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button=button, buttons=1 if button != "none" else 0)

    def drag(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.mouse("mouseMoved", x0, y0)
        self.mouse("mousePressed", x0, y0, "left")
        for i in range(1, 11):
            self.mouse("mouseMoved", x0 + (x1 - x0) * i / 10, y0 + (y1 - y0) * i / 10, "left")
        self.mouse("mouseReleased", x1, y1, "left")

    def center(self, selector_js: str) -> tuple[float, float]:
        """The centre of the element the JS expression ``selector_js`` evaluates to, in viewport pixels."""
        box = json.loads(self.js(f"JSON.stringify(({selector_js}).getBoundingClientRect())"))
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def click(self, selector: str) -> None:
        """Click the first element matching ``selector`` with real mouse events at its centre, as a person would."""
        found = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false;"
            " e.scrollIntoView({block: 'center'}); return true; })()"
        )
        assert found, f"nothing matches {selector} at {self.js('location.href')}"
        x, y = self.center(f"document.querySelector({json.dumps(selector)})")
        self.mouse("mouseMoved", x, y)
        self.call("Input.dispatchMouseEvent", type="mousePressed", x=x, y=y, button="left", buttons=1, clickCount=1)
        self.call("Input.dispatchMouseEvent", type="mouseReleased", x=x, y=y, button="left", buttons=0, clickCount=1)

    def type(self, selector: str, text: str) -> None:
        """Focus the element matching ``selector`` and type ``text`` into it (keyboard input, not a DOM write)."""
        assert self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false;"
            " e.focus(); return document.activeElement === e; })()"
        ), f"cannot focus {selector}"
        self.call("Input.insertText", text=text)

    def fits_width(self) -> bool:
        """No horizontal scrolling of the page itself (a table may scroll inside its own box)."""
        return self.js("document.documentElement.scrollWidth <= window.innerWidth")

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        """A PNG of the viewport, or of the whole page (up to 6000 px high) at the page's width."""
        width, height = self.width, self.height
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            self.resize(width, min(int(size["height"]) + 1, 6000))
            time.sleep(0.3)  # charts follow the new size
        shot = self.call("Page.captureScreenshot", format="png")
        if full_page:
            self.resize(width, height)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            stop_process(self.proc)
