"""Start and stop the processes: action server, Rasa, the service, and the scheduler.

Used by ``scripts/run`` (the product), by the end-to-end tests and by the benchmark,
so all three start the stack the same way. Each process runs in its own process
group and is stopped with its children; nothing is left behind. ``start()`` starts
the three that answer chats; ``scripts/run`` adds the one scheduler process
(``start_scheduler``), which has no port: it is ready when its log says so, and, when
no real WeChat account is configured, the offline fake of WeChat's servers
(``start_fake_wechat``, ops/fake_wechat.py).
"""
from __future__ import annotations

import base64
import ctypes
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx

from ops.paths import BOT_BIN, QUIET_RASA, ROOT, SERVICE_BIN


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the launcher dies, even by SIGKILL (Linux only)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class Ports:
    service: int = 8000
    rasa: int = 5005
    actions: int = 5055
    wechat_sim: int | None = None  # the offline fake of WeChat's servers; None: not used


@dataclass
class Stack:
    model: Path
    var_dir: Path
    ports: Ports = field(default_factory=Ports)
    host: str = "127.0.0.1"  # the service's interface; Rasa and actions stay on loopback
    secrets_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    log_offsets: dict[str, int] = field(default_factory=dict)  # log size when each was started

    def __post_init__(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        (self.var_dir / "logs").mkdir(exist_ok=True)

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.service}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rasa}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.actions}"

    @property
    def wechat_sim_url(self) -> str | None:
        return f"http://127.0.0.1:{self.ports.wechat_sim}" if self.ports.wechat_sim else None

    def env(self) -> dict[str, str]:
        env = {
            **os.environ, **QUIET_RASA,
            "PYTHONPATH": str(ROOT),
            "HX_DATABASE_URL": f"sqlite:///{self.var_dir / 'huixiang.db'}",
            "HX_RASA_URL": self.rasa_url,
            "HX_ACTION_SERVER_URL": self.actions_url,
            "HX_SERVICE_URL": self.service_url,
            "HX_TRACKER_DIALECT": "sqlite",
            "HX_TRACKER_DB": str(self.var_dir / "rasa_tracker.db"),
            "SANIC_HOST": "127.0.0.1",  # the action server has no authentication
        }
        if self.wechat_sim_url:
            # The service sends customer-service messages to the fake instead of Tencent,
            # and the fake delivers customers' messages to the service's callback.
            env["HX_WECHAT_API_BASE"] = self.wechat_sim_url
            env["HX_WECHAT_CALLBACK_URL"] = f"{self.service_url}/wechat/callback"
        env.update(self.secrets_env)
        return env

    def log_path(self, name: str) -> Path:
        return self.var_dir / "logs" / f"{name}.log"

    def _spawn(self, name: str, argv: list[str]) -> None:
        path = self.log_path(name)
        self.log_offsets[name] = path.stat().st_size if path.exists() else 0
        # The child gets its own copy of the log file's descriptor; ours is closed.
        with open(path, "ab") as log:
            self.procs[name] = subprocess.Popen(argv, cwd=ROOT, env=self.env(), stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True,
                                                preexec_fn=_die_with_parent)

    def prepare_database(self, seed: bool = True) -> None:
        py = str(SERVICE_BIN / "python")
        # api.bootstrap: the first admin account (HX_ADMIN_PASSWORD) and the default
        # stage replies and offers; it never changes what is already there.
        # With the demo: its conversations and surveys (they need the default replies),
        # then one run of the analytics jobs so the console has results from the start.
        demo = [[py, "-m", "demo", "generate-conversations", "--if-empty"],
                [py, "-m", "api.cli", "run-job", "--analytics", "--if-never-run"]]
        steps = [[py, "-m", "alembic", "upgrade", "head"]] + ([[py, "-m", "demo", "seed"]] if seed else []) \
            + [[py, "-m", "api.bootstrap"]] + (demo if seed else [])
        for argv in steps:
            done = subprocess.run(argv, cwd=ROOT, env=self.env(), capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"{' '.join(argv[1:])} failed:\n{done.stdout}{done.stderr}")

    def start_actions(self) -> None:
        self._spawn("actions", [str(BOT_BIN / "python"), "-m", "rasa_sdk", "--actions", "actions",
                                "--port", str(self.ports.actions),
                                "--logging-config_file", "ops/logging.yml"])

    def start_rasa(self, endpoints: str = "endpoints.yml", name: str = "rasa", port: int | None = None) -> None:
        self._spawn(name, [str(BOT_BIN / "rasa"), "run", "--model", str(self.model),
                           "--endpoints", endpoints, "--credentials", "credentials.yml",
                           "--interface", "127.0.0.1", "--port", str(port or self.ports.rasa),
                           "--logging-config-file", "ops/logging.yml"])

    def start_service(self) -> None:
        self._spawn("service", [str(SERVICE_BIN / "python"), "-m", "uvicorn", "api.main:app",
                                "--host", self.host, "--port", str(self.ports.service),
                                # uvicorn would believe X-Forwarded-For from 127.0.0.1 (any
                                # local client); the app alone decides, from HX_TRUSTED_PROXIES.
                                "--no-proxy-headers",
                                # Open live-notice streams (server-sent events) would
                                # otherwise hold a graceful shutdown indefinitely.
                                "--no-access-log", "--timeout-graceful-shutdown", "3"])

    def start_scheduler(self) -> None:
        """The one scheduler process (api/jobs/scheduler.py): never inside web workers."""
        self._spawn("scheduler", [str(SERVICE_BIN / "python"), "-m", "api.jobs.scheduler"])

    def start_fake_wechat(self) -> None:
        """The offline fake of WeChat's servers; needs ``ports.wechat_sim`` and HX_WECHAT_* secrets."""
        if not self.ports.wechat_sim:
            raise ValueError("Ports.wechat_sim is not set")
        self._spawn("wechat_sim", [str(SERVICE_BIN / "python"), "-m", "ops.fake_wechat", "serve",
                                   "--port", str(self.ports.wechat_sim)])

    def start(self) -> None:
        self.prepare_database()
        self.start_actions()
        self.start_rasa()
        self.start_service()

    def health_urls(self) -> dict[str, str]:
        """What answers 200 when each process is ready, by process name."""
        urls = {"actions": f"{self.actions_url}/health", "rasa": f"{self.rasa_url}/",
                "service": f"{self.service_url}/api/health"}
        if "wechat_sim" in self.procs:
            urls["wechat_sim"] = f"{self.wechat_sim_url}/_fake/health"
        return urls

    def log_marks(self) -> dict[str, str]:
        """What a process without a port writes to its log once it is ready, by name."""
        return {"scheduler": "scheduler running:"}

    def _ready(self, name: str) -> bool:
        checks, marks = self.health_urls(), self.log_marks()
        if name in checks:
            try:
                return httpx.get(checks[name], timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        path = self.log_path(name)
        if not path.exists():
            return False
        with open(path, "rb") as log:
            log.seek(self.log_offsets.get(name, 0))
            return marks[name].encode() in log.read()

    def wait_ready(self, timeout: float = 180) -> None:
        """Wait until every started process answers; raise with its log tail if one dies."""
        checks = {**self.health_urls(), **self.log_marks()}
        deadline = time.monotonic() + timeout
        pending = [name for name in checks if name in self.procs]
        while pending:
            for name in list(pending):
                proc = self.procs[name]
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")
                if self._ready(name):
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout:.0f} s: {', '.join(pending)}")
            if pending:
                time.sleep(0.5)
        if "rasa" in self.procs and "service" in self.procs:
            self.warm_up_bot()

    def warm_up_bot(self, timeout: float = 120) -> None:
        """One turn through Rasa before any customer's: its first prediction builds the
        TensorFlow graphs of DIET, the response selector and TED, which can take longer
        than the service waits for a turn (HX_BOT_TIMEOUT_SECONDS) on a busy machine.
        The turn goes to Rasa's REST channel under its own sender id ("hx-warmup"), so no
        customer, conversation or message is created in the service."""
        try:
            httpx.post(f"{self.rasa_url}/webhooks/rest/webhook",
                       json={"sender": "hx-warmup", "message": "你好"}, timeout=timeout)
        except httpx.HTTPError:
            pass  # a cold first turn is slower, not broken: the stack still runs

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_path(name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, name: str, grace: float = 15) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        # The service first, so no customer message reaches a half-stopped bot.
        for name in ("service", "scheduler", "rasa", "actions", "wechat_sim"):
            self.stop(name)

    def scheduled_jobs(self) -> list[tuple[str, datetime | None]]:
        """The scheduler's stored jobs and their next run time (UTC), read from its job store."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.env()["HX_DATABASE_URL"])
        try:
            with engine.connect() as conn:  # the table api/jobs/scheduler.py has APScheduler create
                rows = conn.execute(text("SELECT id, next_run_time FROM apscheduler_jobs ORDER BY id")).all()
        finally:
            engine.dispose()
        return [(job_id, None if at is None else datetime.fromtimestamp(at, timezone.utc)) for job_id, at in rows]

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.procs.items()}


def _load_or_create(path: Path, generators: dict[str, Callable[[], str]]) -> dict[str, str]:
    """The values of ``generators``' keys: from the environment, else from ``path``, else
    generated and added to ``path`` (which keeps every other key it holds)."""
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    missing = [k for k in generators if not values.get(k) and not os.environ.get(k)]
    if missing:
        for key in missing:
            values[key] = generators[key]()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# generated by ops/stack.py; keep private\n"
                        + "".join(f"{k}={v}\n" for k, v in values.items()))
        path.chmod(0o600)
    return {k: os.environ.get(k) or values[k] for k in generators}


def load_or_create_secrets(path: Path) -> dict[str, str]:
    """Per-installation secrets, generated once and kept out of the repository."""
    wanted = ("HX_INTERNAL_TOKEN", "HX_ADMIN_TOKEN", "HX_IDENTITY_SECRET", "HX_ADMIN_PASSWORD", "HX_COOKIE_SECRET")
    return _load_or_create(path, {key: lambda: secrets.token_urlsafe(32) for key in wanted})


# For load tests and end-to-end tests, where every simulated customer comes from
# 127.0.0.1: the per-client limits of api/services/rate_limits.py turned off.
NO_CLIENT_LIMITS = {"HX_RATE_MESSAGES_PER_CUSTOMER": "0", "HX_RATE_NEW_SESSIONS_PER_ADDRESS": "0",
                    "HX_RATE_ESCALATIONS_PER_ADDRESS": "0"}


# Credentials of the offline demo account that ops/fake_wechat.py plays, in WeChat's formats.
WECHAT_SIM_CREDENTIALS: dict[str, Callable[[], str]] = {
    "HX_WECHAT_TOKEN": lambda: secrets.token_urlsafe(24),
    # The EncodingAESKey: 32 bytes in base64 without its one "=", so 43 characters.
    "HX_WECHAT_AES_KEY": lambda: base64.b64encode(secrets.token_bytes(32)).decode().rstrip("="),
    "HX_WECHAT_APP_ID": lambda: "wx" + secrets.token_hex(8),
    "HX_WECHAT_APP_SECRET": lambda: secrets.token_hex(16),
}


def new_wechat_sim_credentials() -> dict[str, str]:
    return {key: generate() for key, generate in WECHAT_SIM_CREDENTIALS.items()}


def load_or_create_wechat_sim(path: Path) -> dict[str, str]:
    """Per-installation credentials for the offline WeChat fake, kept with the secrets."""
    return _load_or_create(path, WECHAT_SIM_CREDENTIALS)
