"""A page opened in headless Chromium with the network off, watched over the DevTools protocol: what its console
said (by level), which URLs it asked for, and what scripts evaluated in it return."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest


def chromium() -> str:
    """The browser's path; the test fails in CI without one (.ci/run installs it) and is skipped elsewhere."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return browser


class Page:
    """Chromium showing one file, offline: every host unresolvable and the network emulated as off."""

    def __init__(self, url: str, timeout: float = 90):
        import websocket  # websocket-client

        self.profile = tempfile.mkdtemp(prefix="chromium-")
        self.proc = subprocess.Popen(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader",
             "--no-first-run", "--disable-dev-shm-usage", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--remote-allow-origins=*",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port = self._port(timeout)
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
            targets = json.load(opener.open(f"http://127.0.0.1:{port}/json/list", timeout=30))
            target = next(t for t in targets if t["type"] == "page")
            self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=timeout)
            self.ids = itertools.count(1)
            self.console: list[tuple[str, str]] = []  # (level, text): console calls, exceptions, browser log
            self.requests: list[str] = []
            self.failed: list[str] = []
            for method in ("Runtime.enable", "Log.enable", "Network.enable", "Page.enable"):
                self.call(method)
            self.call("Network.emulateNetworkConditions", offline=True, latency=0, downloadThroughput=-1,
                      uploadThroughput=-1)
            self.call("Page.navigate", url=url)
            self._until(lambda m: m.get("method") == "Page.loadEventFired", timeout)
        except BaseException:
            self.close()
            raise

    def _port(self, timeout: float) -> int:
        file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.time() + timeout
        while time.time() < deadline:
            if file.exists() and file.read_text().strip():
                return int(file.read_text().split()[0])
            if self.proc.poll() is not None:
                raise AssertionError(f"chromium exited with {self.proc.returncode}")
            time.sleep(0.1)
        raise AssertionError("chromium did not open its DevTools port")

    def _record(self, message: dict) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.console.append((params["type"], text))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.console.append(("error", details.get("exception", {}).get("description", details.get("text", ""))))
        elif method == "Log.entryAdded":
            self.console.append((params["entry"]["level"], params["entry"]["text"]))
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            self.failed.append(params.get("errorText", ""))

    def _until(self, done, timeout: float) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            message = json.loads(self.ws.recv())
            self._record(message)
            if done(message):
                return message
        raise AssertionError("timed out waiting for Chromium")

    def call(self, method: str, timeout: float = 60, **params: Any) -> dict:
        number = next(self.ids)
        self.ws.send(json.dumps({"id": number, "method": method, "params": params}))
        reply = self._until(lambda m: m.get("id") == number, timeout)
        assert "error" not in reply, reply
        return reply.get("result", {})

    def evaluate(self, script: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.call("Runtime.evaluate", expression=script, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def errors(self) -> list[tuple[str, str]]:
        return [(level, text) for level, text in self.console if level in ("error", "assert")]

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Page":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
