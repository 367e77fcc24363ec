"""A `darkroom ui` process and Debian's Chromium (through Playwright) for the viewer's benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

CHROMIUM = "/usr/bin/chromium"
# A closed network: nothing of Chromium's own reaches out (STACK_NOTES.md, Browser tests).
CHROMIUM_ARGS = ["--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic"]


@contextmanager
def ui_server(storage_url: str) -> Iterator[str]:
    """`darkroom ui` over `storage_url` on a free loopback port; yields its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DARKROOM_", "AWS_"))}
    proc = subprocess.Popen([sys.executable, "-m", "darkroom._cli", "ui", "--storage", storage_url,
                             "--host", "127.0.0.1", "--port", "0"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        base = None
        assert proc.stdout is not None
        for line in proc.stdout:
            if "open http://" in line:
                base = line.split("open ", 1)[1].strip().rstrip("/")
                break
        if base is None:
            sys.exit(f"darkroom ui exited with {proc.wait()} before printing its URL")
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/runs", timeout=5).read()
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def chromium() -> Iterator[object]:
    """Debian's Chromium, headless (no browser download: `executable_path`)."""
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium (bash .ci/install --test installs it)")
    from playwright.sync_api import sync_playwright

    args = CHROMIUM_ARGS + (["--no-sandbox"] if os.geteuid() == 0 else [])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser
        finally:
            browser.close()
