"""The README's run command: prints the URLs, serves the chat, and Ctrl-C leaves nothing."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from ops.paths import ROOT
from dotenv import dotenv_values

from tests.e2e.conftest import free_port, personal_data_in_logs

pytestmark = pytest.mark.e2e


def test_run_starts_everything_prints_urls_and_stops_cleanly(tmp_path):
    port, sim_port = free_port(), free_port()
    env = {**os.environ, "HX_VAR_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("HX_WECHAT_APP_ID", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ops.run", "--port", str(port), "--rasa-port", str(free_port()),
         "--actions-port", str(free_port()), "--wechat-sim-port", str(sim_port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(output)
        assert f"http://127.0.0.1:{port}/chat" in text, text
        assert "uid=demo-1001&uh=" in text
        page = httpx.get(f"http://127.0.0.1:{port}/chat", timeout=10)
        assert page.status_code == 200 and "回响" in page.text
        # No WeChat account here: the printed command chats through the offline fake.
        say = next(line for line in output if "ops.fake_wechat say" in line).split("Try it:", 1)[1].strip()
        assert f"--sim http://127.0.0.1:{sim_port}" in say
        chat = subprocess.run(say, shell=True, env=env, capture_output=True, text=True, timeout=60)
        assert chat.returncode == 0 and "公众号" in chat.stdout, chat.stdout + chat.stderr
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 4  # action server, Rasa, service, the WeChat fake
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    assert proc.returncode == 0
    time.sleep(1)
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], [c.cmdline() for c in alive]
    assert (tmp_path / "secrets.env").stat().st_mode & 0o077 == 0  # secrets readable by owner only
    # The last test of the run: the product's own logs (demo seed, first analytics run,
    # a WeChat chat through the fake) hold no personal data and none of its secrets.
    assert list(tmp_path.rglob("*.log")), "the run wrote no logs"
    hits = personal_data_in_logs(tmp_path, dotenv_values(tmp_path / "secrets.env"))
    assert not hits, hits[:20]
