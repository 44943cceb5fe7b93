"""Turn latency of the full stack against bare Rasa, and whether any message is lost.
(Long because a benchmark is read once, whole: what is measured, how, the stack runner
shared with bench/wechat.py, and the writer of its section of docs/benchmarks.md.)

Run from the project root::

    .venvs/service/bin/python -m bench.turns [--levels 1,10,50] [--turns 10] [--keep]

What is measured
----------------
* A *turn* is one customer message and the complete answer to it, timed on the client
  with ``time.perf_counter`` from just before the request is sent until the response
  body has been read.

  - **Full stack**: ``POST /api/web/conversations/{id}/messages`` on the service. The
    service stores the message in SQLite, calls Rasa's REST webhook; Rasa calls the
    service's ``/nlg`` for every response and the action server for custom actions (at a
    session's first message ``action_session_start`` reads the customer from the
    service's internal API); the service stores the replies and answers.
  - **Bare Rasa**: ``POST /webhooks/rest/webhook`` on a second Rasa process with the same
    model, the same action server and the same kind of tracker store (its own SQLite
    file) but no NLG endpoint (``bench/endpoints-bare.yml``): the texts of domain.yml,
    no service in the path. It gets no metadata, so its ``action_session_start`` runs
    but looks nothing up.

* A *level* of N runs N conversations at once, each with its own HTTP client (own
  cookie jar and connection), each sending its messages one after the other with no
  pause in between (a closed loop: N requests are outstanding at all times, far more
  than N people typing). The web session (``POST /api/web/session``) is opened before
  the clock starts and is not a turn. The same message scripts go to both stacks.
* p50/p95/p99 are nearest-rank percentiles over every turn of a level, failed ones
  included; throughput is turns divided by the wall time from the first message sent
  to the last answer received.
* Full stack and bare Rasa run one after the other at each level, never at the same
  time, after a warm-up of both (model loading and first calls are not measured).
* Nothing lost: after each full-stack level every conversation is read back through the
  staff API. Each sent message must be stored exactly once as an inbound message and
  have at least one reply (bot or system). Errors (no HTTP 200), system fallbacks (the
  bot did not answer within the service's deadline) and lost messages are counted.
* Memory: RSS of each process together with its children, sampled every 0.5 s; *idle*
  is after the warm-up before any load, *peak* the maximum during the levels.
* CPU: CPU seconds of each process (with its children) and of this load generator
  during each run, divided by the turns of the run; and what the rest of the machine
  used meanwhile: a level where other processes took more than 0.2 cores is marked
  "disturbed" in the report, as its comparison is not reliable.

Everything runs on this one machine, the load generator included, so it competes with
the stack for the same cores. Results go to the "Turn latency" section of
docs/benchmarks.md (rewritten on every run) and to docs/benchmarks-turns.json.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import psutil

from bot.text import clean_customer_text
from ops.paths import BOT_BIN, ROOT
from ops.stack import NO_CLIENT_LIMITS, Ports, Stack
from ops.train import ensure_model

DOC = ROOT / "docs" / "benchmarks.md"
DOC_JSON = ROOT / "docs" / "benchmarks-turns.json"
SECTION = "## Turn latency"
BARE_ENDPOINTS = "bench/endpoints-bare.yml"
TIMEOUT = httpx.Timeout(30.0)
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)
GOAL_RATIO = 1.3
GOAL_LEVEL = 50
DISTURBED_CORES = 0.2  # other processes using more than this during a run make its numbers suspect
PROCESSES = ("service", "rasa", "rasa_bare", "actions")

# ---------------------------------------------------------------------------- messages

# What customers ask, by kind. Nothing here asks for a person, complains, or answers
# yes/no to the bot's questions (the ways to utter_handoff): conversations stay with the bot.
POOLS = {
    "greet": ["你好", "在吗", "您好，请问有人在吗", "哈喽，在不在", "亲，在吗", "你好呀"],
    "delivery": ["什么时候发货呀", "下单后多久能到", "你们一般发什么快递", "能发顺丰吗",
                 "寄到广州要几天", "今天下单明天能发货吗"],
    "faq": ["可以开发票吗", "包邮吗", "能用花呗分期吗", "发票能开公司抬头吗", "支持微信支付吗",
            "运费怎么算", "下单后还能改地址吗", "质保多久"],
    "product": ["这款还有货吗", "这个是什么材质的", "这件有其他颜色吗", "这个能机洗吗",
                "什么时候补货", "这个适合送人吗"],
    "coupon": ["有优惠券吗", "现在有什么活动吗", "满减怎么用", "优惠券在哪里领", "能便宜点吗",
               "新人有优惠吗"],
    "membership": ["会员有什么好处", "积分可以干嘛", "怎么升级会员", "积分能换什么"],
    "thank": ["谢谢", "谢谢你", "多谢啦", "感谢感谢", "谢谢，明白了"],
    "goodbye": ["再见", "拜拜", "好的再见", "那先这样，拜拜"],
}
MIDDLE = ["delivery", "faq", "product", "coupon", "faq", "membership", "delivery", "product"]


def script(conversation: int, turns: int) -> list[str]:
    """One conversation's messages: greeting, questions, thanks, goodbye, varied per conversation."""
    if turns <= 2:
        kinds = ["greet", "goodbye"][:turns]
    else:
        kinds = ["greet", *(MIDDLE[i % len(MIDDLE)] for i in range(turns - 3)), "thank", "goodbye"]
    rng = random.Random(conversation)
    decks = {kind: rng.sample(pool, len(pool)) for kind, pool in POOLS.items()}
    used: Counter[str] = Counter()
    texts = []
    for kind in kinds:
        texts.append(decks[kind][used[kind] % len(decks[kind])])
        used[kind] += 1
    return texts


# ---------------------------------------------------------------------------- processes

def free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.add(s.getsockname()[1])
    return sorted(ports)


@dataclass
class BenchStack(Stack):
    """The product's stack, plus a bare Rasa: same model and action server, no NLG,
    a tracker file of its own (``HX_BARE_TRACKER_DB``)."""

    bare_port: int = 0

    @property
    def bare_url(self) -> str:
        return f"http://127.0.0.1:{self.bare_port}"

    def env(self) -> dict[str, str]:
        return {**super().env(), "HX_BARE_TRACKER_DB": str(self.var_dir / "rasa_bare_tracker.db")}

    def start_bare_rasa(self) -> None:
        self.start_rasa(BARE_ENDPOINTS, name="rasa_bare", port=self.bare_port)

    def health_urls(self) -> dict[str, str]:
        return {**super().health_urls(), "rasa_bare": f"{self.bare_url}/"}

    def stop_all(self) -> None:
        self.stop("rasa_bare")
        super().stop_all()


def process_tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss(pid: int) -> int:
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += p.memory_info().rss
    return total


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of each process with its children, of this load generator, and of
    the whole machine (to see how much anything else took during a run)."""
    out = {}
    for name, proc in stack.procs.items():
        total = 0.0
        for p in process_tree(proc.pid):
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                t = p.cpu_times()
                total += t.user + t.system
        out[name] = total
    t = psutil.Process().cpu_times()
    out["load generator"] = t.user + t.system
    m = psutil.cpu_times()
    out["machine"] = m.user + m.nice + m.system + getattr(m, "irq", 0) + getattr(m, "softirq", 0)
    return out


class MemorySampler(threading.Thread):
    """RSS of every process every ``interval`` seconds, the maximum kept per phase."""

    def __init__(self, stack: Stack, interval: float = 0.5):
        super().__init__(daemon=True, name="rss-sampler")
        self.stack, self.interval = stack, interval
        self.phase = "startup"
        self.peaks: dict[str, dict[str, int]] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            phase = self.phase
            for name, proc in list(self.stack.procs.items()):
                rss = tree_rss(proc.pid)
                peaks = self.peaks.setdefault(phase, {})
                peaks[name] = max(peaks.get(name, 0), rss)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


# ---------------------------------------------------------------------------- the load

@dataclass
class Turn:
    text: str
    seconds: float
    status: int | None  # None: no HTTP answer at all (timeout, connection error)
    authors: list[str]  # who answered, one entry per reply: "bot" or "system"
    error: str | None = None  # exception name, or the start of a non-200 body
    message_id: int | None = None  # full stack: the id the service gave the stored message


@dataclass
class Conversation:
    key: str  # the service's conversation id, or the sender id for bare Rasa
    texts: list[str]
    turns: list[Turn] = field(default_factory=list)


def new_client(base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT, limits=LIMITS)


async def _timed(client: httpx.AsyncClient, path: str, body: dict) -> tuple[httpx.Response | None, float, str | None]:
    started = time.perf_counter()
    try:
        resp = await client.post(path, json=body)
    except httpx.HTTPError as exc:
        return None, time.perf_counter() - started, type(exc).__name__
    return resp, time.perf_counter() - started, None


async def send_full(client: httpx.AsyncClient, conv: Conversation, text: str) -> Turn:
    body = {"text": text, "client_message_id": uuid.uuid4().hex}
    resp, seconds, error = await _timed(client, f"/api/web/conversations/{conv.key}/messages", body)
    if resp is None:
        return Turn(text, seconds, None, [], error)
    if resp.status_code != 200:
        return Turn(text, seconds, resp.status_code, [], resp.text[:200])
    out = resp.json()
    return Turn(text, seconds, 200, [r["author"] for r in out["replies"]], message_id=out["message"]["id"])


async def send_bare(client: httpx.AsyncClient, conv: Conversation, text: str) -> Turn:
    resp, seconds, error = await _timed(client, "/webhooks/rest/webhook", {"sender": conv.key, "message": text})
    if resp is None:
        return Turn(text, seconds, None, [], error)
    if resp.status_code != 200:
        return Turn(text, seconds, resp.status_code, [], resp.text[:200])
    return Turn(text, seconds, 200, ["bot" for item in resp.json() if item.get("text")])


async def drive(pairs: list[tuple[httpx.AsyncClient, Conversation]], send) -> float:
    """Every conversation sends its messages in turn, all conversations at once; the wall time."""
    async def one(client: httpx.AsyncClient, conv: Conversation) -> None:
        for text in conv.texts:
            conv.turns.append(await send(client, conv, text))

    started = time.perf_counter()
    await asyncio.gather(*(one(client, conv) for client, conv in pairs))
    return time.perf_counter() - started


async def run_full(service_url: str, scripts: list[list[str]]) -> tuple[list[Conversation], float]:
    async with contextlib.AsyncExitStack() as clients_stack:
        clients = [await clients_stack.enter_async_context(new_client(service_url)) for _ in scripts]
        sessions = await asyncio.gather(*(c.post("/api/web/session", json={}) for c in clients))
        convs = []
        for resp, texts in zip(sessions, scripts):
            if resp.status_code != 200:
                raise RuntimeError(f"POST /api/web/session answered {resp.status_code}: {resp.text[:200]}")
            convs.append(Conversation(resp.json()["conversation"]["id"], texts))
        wall = await drive(list(zip(clients, convs)), send_full)
    return convs, wall


async def run_bare(rasa_url: str, scripts: list[list[str]]) -> tuple[list[Conversation], float]:
    async with contextlib.AsyncExitStack() as clients_stack:
        clients = [await clients_stack.enter_async_context(new_client(rasa_url)) for _ in scripts]
        convs = [Conversation(f"bench-{uuid.uuid4().hex}", texts) for texts in scripts]
        wall = await drive(list(zip(clients, convs)), send_bare)
    return convs, wall


async def audit(service_url: str, admin_token: str, convs: list[Conversation]) -> dict[str, int]:
    """Read every conversation back through the staff API: is every message there, once, answered?"""
    counts = Counter(conversations=len(convs), sent=0, stored=0, lost=0, lost_after_200=0, duplicated=0,
                     unanswered=0, system_fallbacks=0, handoffs=0, nlu_fallback=0, unreadable=0)
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=service_url, timeout=TIMEOUT, headers=headers) as staff:
        for conv in convs:
            resp = await staff.get(f"/api/conversations/{conv.key}")
            counts["sent"] += len(conv.turns)
            if resp.status_code != 200:
                counts["unreadable"] += 1
                counts["lost"] += len(conv.turns)
                counts["lost_after_200"] += sum(1 for t in conv.turns if t.status == 200)
                continue
            messages = resp.json()["messages"]
            inbound = [m for m in messages if m["direction"] == "inbound"]
            outbound = [m for m in messages if m["direction"] == "outbound"]
            answered = Counter(m["reply_to_id"] for m in outbound)
            sent = Counter(clean_customer_text(t.text) for t in conv.turns)
            stored = Counter(m["text"] for m in inbound)
            counts["stored"] += len(inbound)
            counts["lost"] += sum((sent - stored).values())
            ids = {m["id"] for m in inbound}
            counts["lost_after_200"] += sum(1 for t in conv.turns if t.status == 200 and t.message_id not in ids)
            counts["duplicated"] += sum((stored - sent).values())
            counts["unanswered"] += sum(1 for m in inbound if not answered[m["id"]])
            counts["system_fallbacks"] += sum(1 for m in outbound if m["author"] == "system")
            counts["handoffs"] += sum(1 for m in outbound if m["template"] == "utter_handoff")
            counts["nlu_fallback"] += sum(1 for m in inbound if m["intent"] == "nlu_fallback")
    return dict(counts)


# ---------------------------------------------------------------------------- numbers

def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def latency_stats(convs: list[Conversation], wall: float) -> dict:
    turns = [t for c in convs for t in c.turns]
    ms = [t.seconds * 1000 for t in turns]
    return {
        "turns": len(turns), "wall_s": round(wall, 2), "throughput": round(len(turns) / wall, 2),
        "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1), "max_ms": round(max(ms), 1),
        "mean_ms": round(sum(ms) / len(ms), 1),
        "errors": sum(1 for t in turns if t.status != 200),
        "system_replies": sum(1 for t in turns if "system" in t.authors),
        "no_reply": sum(1 for t in turns if t.status == 200 and not t.authors),
        "error_kinds": dict(Counter(t.error if t.status is None else f"HTTP {t.status}"
                                    for t in turns if t.status != 200).most_common()),
    }


ACCESS = re.compile(r" api\.access: (\w+) (\S+) (\d{3}) ([\d.]+)ms")
# Log lines at WARNING or above, and the last line of a traceback ("x.y.SomeError: why").
TROUBLE = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|^[\w.]+(Error|Exception|Timeout)\b|database is locked")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(,\d+)?\s*")
_VARYING = re.compile(r"\b[0-9a-f]{8,}\b…?|\d+")


def route_of(path: str) -> str:
    return re.sub(r"/(\d+|[0-9a-f]{32})(?=/|$)", "/{id}", path)


def log_offsets(stack: Stack) -> dict[str, int]:
    return {name: stack.log_path(name).stat().st_size for name in stack.procs if stack.log_path(name).exists()}


def read_logs(stack: Stack, start: dict[str, int]) -> dict[str, list[str]]:
    out = {}
    for name, offset in start.items():
        with open(stack.log_path(name), "rb") as f:
            f.seek(offset)
            out[name] = f.read().decode("utf-8", errors="replace").splitlines()
    return out


def service_side(lines: list[str]) -> dict:
    """The service's own timings from its access log: /nlg and the message endpoint."""
    by_route: dict[str, list[float]] = {}
    for line in lines:
        m = ACCESS.search(line)
        if m:
            by_route.setdefault(f"{m[1]} {route_of(m[2])}", []).append(float(m[4]))
    return {route: {"calls": len(ms), "p50_ms": round(percentile(ms, 50), 1),
                    "p95_ms": round(percentile(ms, 95), 1)} for route, ms in sorted(by_route.items())}


def trouble(logs: dict[str, list[str]]) -> dict[str, dict[str, int]]:
    """Per log, the kinds of warning and error lines (times, ids and numbers blanked) and how many."""
    out = {}
    for name, lines in logs.items():
        kinds = Counter(_VARYING.sub("#", _TIMESTAMP.sub("", line.strip()))[:160]
                        for line in lines if TROUBLE.search(line.strip()))
        if kinds:
            out[name] = dict(kinds.most_common(4))
    return out


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    return {"cpus": os.cpu_count(), "cpu_model": cpu,
            "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()]}


def rasa_version() -> str:
    out = subprocess.run([str(BOT_BIN / "python"), "-c", "import rasa; print(rasa.__version__)"],
                         capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return out.stdout.strip() or "unknown"


# ---------------------------------------------------------------------------- the run

async def benchmark(stack: BenchStack, levels: list[int], turns: int, sampler: MemorySampler) -> dict:
    bare_url = stack.bare_url
    admin = stack.secrets_env["HX_ADMIN_TOKEN"]
    print("warming up…", flush=True)
    warm = [script(1000 + i, 6) for i in range(3)]
    for _ in range(2):
        await run_full(stack.service_url, warm)
        await run_bare(bare_url, warm)
    sampler.phase = "idle"
    await asyncio.sleep(3)
    load_before = [round(x, 2) for x in os.getloadavg()]

    results = []
    for level in levels:
        scripts = [script(i, turns) for i in range(level)]
        row: dict = {"conversations": level}
        for kind, run in (("full", run_full), ("bare", run_bare)):
            url = stack.service_url if kind == "full" else bare_url
            print(f"{level:>3} conversations × {turns} turns, {'full stack' if kind == 'full' else 'bare Rasa'}…",
                  flush=True)
            await asyncio.sleep(2)  # let the previous run's writes settle
            sampler.phase = f"{kind}@{level}"
            cpu0, logs0 = cpu_seconds(stack), log_offsets(stack)
            convs, wall = await run(url, scripts)
            cpu1 = cpu_seconds(stack)
            stats = latency_stats(convs, wall)
            used = {name: cpu1[name] - cpu0[name] for name in cpu1 if name in cpu0}
            stats["cpu_ms_per_turn"] = {name: round(sec * 1000 / stats["turns"], 1)
                                        for name, sec in used.items() if name != "machine"}
            others = used["machine"] - sum(sec for name, sec in used.items() if name != "machine")
            stats["other_processes_cores"] = round(max(others, 0) / wall, 2)
            logs = read_logs(stack, logs0)
            stats["log_trouble"] = trouble(logs)
            if kind == "full":
                stats["service_side"] = service_side(logs.get("service", []))
                stats["audit"] = await audit(stack.service_url, admin, convs)
            row[kind] = stats
            print(f"    p50 {stats['p50_ms']:.0f} ms, p95 {stats['p95_ms']:.0f} ms, "
                  f"{stats['throughput']:.1f} turns/s, {stats['errors']} errors", flush=True)
        row["ratio_p50"] = round(row["full"]["p50_ms"] / row["bare"]["p50_ms"], 2)
        results.append(row)
    sampler.phase = "done"
    return {"levels": results, "load_average_before_levels": load_before}


def memory_table(sampler: MemorySampler) -> dict[str, dict[str, float]]:
    mb = 2**20
    idle = sampler.peaks.get("idle", {})
    load = [p for phase, p in sampler.peaks.items() if "@" in phase]
    out = {}
    for name in PROCESSES:
        peak = max((p.get(name, 0) for p in load), default=0)
        out[name] = {"idle_mb": round(idle.get(name, 0) / mb), "peak_mb": round(peak / mb)}
    return out


# ---------------------------------------------------------------------------- the report

def goals(report: dict) -> dict:
    levels = report["levels"]
    ratio_ok = all(r["ratio_p50"] <= GOAL_RATIO for r in levels)
    top = next((r for r in levels if r["conversations"] == GOAL_LEVEL), None)
    lost_ok = top is not None and top["full"]["audit"]["lost"] == 0
    disturbed = [r["conversations"] for r in levels if disturbance(r)]
    return {"ratio_met": ratio_ok, "lost_met": lost_ok, "goal_level_run": top is not None,
            "disturbed_levels": disturbed}


def disturbance(row: dict) -> float:
    """The most CPU (in cores) that other processes on the machine took during this level's runs."""
    cores = max(row["full"]["other_processes_cores"], row["bare"]["other_processes_cores"])
    return cores if cores > DISTURBED_CORES else 0.0


def yes(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def render(report: dict) -> str:
    m, g = report["machine"], report["goals"]
    lines = [
        SECTION, "",
        "Written by `bench/turns.py` (`.venvs/service/bin/python -m bench.turns`); every run rewrites "
        "this section and `docs/benchmarks-turns.json`. A turn is one customer message until its "
        "complete answer, timed by the client. *Full stack*: the web chat endpoint of the service "
        "(SQLite, Rasa, `/nlg` callbacks, action server). *Bare Rasa*: Rasa's REST webhook on a second "
        "Rasa with the same model, action server and kind of tracker store, without NLG. N conversations "
        "run at once, each sending its next message as soon as the answer arrives (no pause), so N "
        "requests are always waiting; full stack and bare Rasa take turns, never run together. "
        "Percentiles are nearest-rank over all turns of a level.", "",
        f"- Date: {report['date']}; the whole run (start-up, warm-up, all levels) took "
        f"{report['run_seconds'] / 60:.1f} min",
        f"- Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, {m['os']}; load average "
        f"at the start {' / '.join(str(x) for x in m['load_average_before'])}, after the warm-up "
        f"{' / '.join(str(x) for x in report['load_average_before_levels'])}; the load generator "
        "runs on the same cores",
        f"- Model: `{report['model']}` (Rasa {report['rasa']})",
        f"- {report['turns']} turns per conversation: greeting, questions on delivery, FAQ (invoice, "
        "shipping fee, payment…), products, coupons and membership, thanks, goodbye; varied per "
        "conversation, nothing that asks for a person",
    ]
    lines.append("")
    for row in report["levels"]:
        full, bare, a = row["full"], row["bare"], row["full"]["audit"]
        n = row["conversations"]
        lines += [
            f"### {n} conversation{'s' if n > 1 else ''} at once", "",
            "| | turns | p50 ms | p95 ms | p99 ms | max ms | turns/s |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for label, s in (("full stack", full), ("bare Rasa", bare)):
            lines.append(f"| {label} | {s['turns']} | {s['p50_ms']:.0f} | {s['p95_ms']:.0f} | "
                         f"{s['p99_ms']:.0f} | {s['max_ms']:.0f} | {s['throughput']:.1f} |")
        nlg = full["service_side"].get("POST /nlg", {})
        per_turn = nlg.get("calls", 0) / max(full["turns"], 1)
        cpu_f, cpu_b = full["cpu_ms_per_turn"], bare["cpu_ms_per_turn"]
        lines += [
            "",
            f"Full/bare at p50: **{row['ratio_p50']:.2f}** (goal ≤ {GOAL_RATIO}: "
            f"{'met' if row['ratio_p50'] <= GOAL_RATIO else 'not met'}). "
            f"Full stack: {full['errors']} errors{kinds(full)}, {a['system_fallbacks']} system fallbacks, "
            f"{a['lost']} lost ({a['lost_after_200']} of them after an HTTP 200), {a['duplicated']} "
            f"duplicated, {a['unanswered']} stored without a reply, of {a['sent']} messages (read back "
            f"through the staff API); {a['handoffs']} handoffs, {a['nlu_fallback']} not understood "
            f"(`nlu_fallback`). Bare Rasa: {bare['errors']} errors{kinds(bare)}, {bare['no_reply']} empty answers.",
            "",
            f"Inside the service: `/nlg` {nlg.get('calls', 0)} calls ({per_turn:.1f} per turn), "
            f"p50 {nlg.get('p50_ms', 0):.1f} ms, p95 {nlg.get('p95_ms', 0):.1f} ms each. "
            f"CPU per turn: full stack {sum(cpu_f.get(k, 0) for k in ('service', 'rasa', 'actions')):.0f} ms "
            f"(service {cpu_f.get('service', 0):.0f}, rasa {cpu_f.get('rasa', 0):.0f}, actions "
            f"{cpu_f.get('actions', 0):.0f}), bare {cpu_b.get('rasa_bare', 0) + cpu_b.get('actions', 0):.0f} ms "
            f"(rasa {cpu_b.get('rasa_bare', 0):.0f}, actions {cpu_b.get('actions', 0):.0f}); load generator "
            f"{cpu_f.get('load generator', 0):.0f} / {cpu_b.get('load generator', 0):.0f} ms. Other "
            f"processes on the machine used {full['other_processes_cores']:.2f} / "
            f"{bare['other_processes_cores']:.2f} cores during the two runs.",
            "",
        ]
        if disturbance(row):
            lines += [f"**Disturbed:** other processes on the machine took up to {disturbance(row):.2f} cores "
                      "during this level; its comparison is not reliable. Rerun on a quiet machine.", ""]
    lines += ["### Memory (RSS, process and its children)", "",
              "| process | idle after warm-up MB | peak under load MB |", "|---|---:|---:|"]
    lines += [f"| {name} | {v['idle_mb']} | {v['peak_mb']} |" for name, v in report["memory"].items()]
    lines += ["", "### Goals", ""]
    ratios = ", ".join(f"{r['ratio_p50']:.2f} at {r['conversations']}" for r in report["levels"])
    lines.append(f"- Full-stack p50 within {GOAL_RATIO}× of bare Rasa: {yes(g['ratio_met'])} ({ratios}).")
    if g["goal_level_run"]:
        top = next(r for r in report["levels"] if r["conversations"] == GOAL_LEVEL)
        lines.append(f"- No message lost at {GOAL_LEVEL} conversations at once: {yes(g['lost_met'])} "
                     f"({top['full']['audit']['lost']} lost, {top['full']['audit']['system_fallbacks']} "
                     "answered by the system fallback instead of the bot).")
    else:
        lines.append(f"- No message lost at {GOAL_LEVEL} conversations at once: not measured in this run.")
    if g["disturbed_levels"]:
        lines.append(f"- Levels disturbed by other processes (see above), whose verdicts are unreliable: "
                     f"{', '.join(str(n) for n in g['disturbed_levels'])}.")
    lines += ["", "### Reading the numbers", "", *interpretation(report), ""]
    issues = [(r["conversations"], "full stack" if kind == "full" else "bare Rasa", name, found)
              for r in report["levels"] for kind in ("full", "bare") for name, found in r[kind]["log_trouble"].items()]
    if issues:
        lines += ["### Warnings and errors in the logs during the levels", "",
                  "Most frequent kinds per log (times, ids and numbers shown as `#`).", ""]
        for level, run, name, found in issues:
            lines.append(f"- {level} at once, {run}, `{name}.log`:")
            lines += [f"  - {count} × `{text.replace(chr(96), chr(39))}`" for text, count in found.items()]
        lines.append("")
    return "\n".join(lines)


def kinds(stats: dict) -> str:
    found = stats["error_kinds"]
    return " (" + ", ".join(f"{n} × {kind}" for kind, n in found.items()) + ")" if found else ""


def interpretation(report: dict) -> list[str]:
    """Plain sentences from the measured numbers and logs; nothing here is written by hand after a run."""
    out = []
    for row in report["levels"]:
        full, bare = row["full"], row["bare"]
        cpu_f, cpu_b = full["cpu_ms_per_turn"], bare["cpu_ms_per_turn"]
        cpu_full = sum(cpu_f.get(k, 0) for k in ("service", "rasa", "actions"))
        cpu_bare = cpu_b.get("rasa_bare", 0) + cpu_b.get("actions", 0)
        text = (f"- {row['conversations']} at once: the full stack adds {full['p50_ms'] - bare['p50_ms']:.0f} ms "
                f"at p50 ({row['ratio_p50']:.2f}×); throughput {full['throughput']:.1f} against "
                f"{bare['throughput']:.1f} turns/s; CPU per turn {cpu_full:.0f} ms against {cpu_bare:.0f} ms "
                f"(the service {cpu_f.get('service', 0):.0f} ms, and Rasa itself "
                f"{cpu_f.get('rasa', 0) - cpu_b.get('rasa_bare', 0):+.0f} ms with NLG than without).")
        failed = full["errors"] + full["system_replies"]  # disjoint: a failed request has no replies
        if failed:
            text += (f" {failed} of {full['turns']} turns failed (errors or system fallbacks), so this level's "
                     "latencies describe a breakdown, not a load the stack carries.")
        out.append(text)
    out += [
        "",
        "Per turn the full stack does this on top of bare Rasa: in the service, finding the customer from "
        "the cookie and the conversation, committing the message before Rasa is asked, reading the "
        "customer's stage and committing the replies afterwards (SQLite, in the thread pool); one HTTP "
        "round trip from Rasa back to the service's `/nlg` for every response (CPU in Rasa's NLG client "
        "and in the service, and a wait in between); at a session's first message, "
        "`action_session_start` reading the customer "
        "through the internal API (bare Rasa runs the action without a customer id and looks nothing "
        "up); and one more HTTP hop with JSON in and out. With one conversation this is time the "
        f"customer waits. With several at once the {report['machine']['cpus']} cores are the limit: the "
        "CPU the service and Rasa's NLG client spend is taken from Rasa's predictions, throughput drops, "
        "and in this closed loop the mean wait is the number of conversations divided by the throughput "
        "(Little's law), so the overhead shows up as queueing rather than as time spent in the service.",
    ]
    out += problems(report)
    return out


def problems(report: dict) -> list[str]:
    """Known failure patterns, recognised in the logs of the full-stack runs."""
    found = []
    for row in report["levels"]:
        logs, n = row["full"]["log_trouble"], row["conversations"]
        count = lambda name, needle: sum(c for k, c in logs.get(name, {}).items() if needle in k)  # noqa: E731
        pool = count("service", "QueuePool limit")
        if pool:
            nlg = row["full"]["service_side"].get("POST /nlg", {})
            found.append(f"- At {n} at once the service ran out of database connections {pool} times "
                         "(SQLAlchemy's pool: 5 + 10 overflow, 30 s wait; answered as HTTP 500). While "
                         "requests waited for a connection they held worker threads, and the service's "
                         f"`/nlg` took {nlg.get('p50_ms', 0):.0f} ms at p50, so Rasa could not answer "
                         "within the service's deadline either.")
        locked = count("service", "database is locked") + count("rasa", "database is locked")
        if locked:
            found.append(f"- At {n} at once SQLite reported \"database is locked\" {locked} times.")
        session = count("rasa", "Failed to execute custom action 'action_session_start'")
        if session:
            why = ""
            if count("actions", "asyncio.exceptions.TimeoutError"):
                why = (" (the action server logged `asyncio.exceptions.TimeoutError`: its call to the service's "
                       "internal API timed out, and the action raised instead of going on without the "
                       "customer's state)")
            found.append(f"- At {n} at once `action_session_start` failed {session} times{why}; the service "
                         f"logged {count('service', 'bot gave no reply')} turns without any bot reply.")
    return ["", "Problems seen in the logs:", "", *found] if found else []


def write_doc(section: str, heading: str = SECTION) -> None:
    """Replace the section under ``heading`` in docs/benchmarks.md, or append it; the
    other benchmarks' sections stay as they are."""
    DOC.parent.mkdir(exist_ok=True)
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else (
        "# Benchmarks\n\nMeasurements of the running assistant. Each section is written by the script "
        "it names; rerun the script rather than editing its numbers by hand.\n\n")
    start = text.find(heading + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    else:
        nxt = re.search(r"^## ", text[start + len(heading):], re.M)
        end = start + len(heading) + nxt.start() if nxt else len(text)
        text = text[:start] + section.rstrip("\n") + "\n" + ("\n" + text[end:] if nxt else "")
    DOC.write_text(text, encoding="utf-8")


def publish(report: dict, section: str, heading: str, json_path: Path) -> None:
    """The section into docs/benchmarks.md, the whole report as JSON beside it."""
    write_doc(section, heading)
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"\nwritten: {DOC.relative_to(ROOT)}, {json_path.relative_to(ROOT)}")


def run_on_stack(stack: Stack, sampler: MemorySampler, start_more, work, keep: bool):
    """Start the stack and what else the benchmark needs (``start_more()``), run the
    coroutine ``work()`` once all are ready, and stop every process whatever happens.
    Returns its result, or None when interrupted; the temporary folder is removed after
    a successful run unless ``keep``, and kept (its path printed) otherwise."""
    result, ok = None, False
    try:
        print(f"starting the stack in {stack.var_dir}…", flush=True)
        stack.start()
        start_more()
        sampler.start()
        stack.wait_ready(timeout=600)
        result, ok = asyncio.run(work()), True
    except KeyboardInterrupt:
        print("interrupted; stopping everything", file=sys.stderr)
    finally:
        sampler.stop()
        stack.stop_all()
        if ok and not keep:
            shutil.rmtree(stack.var_dir, ignore_errors=True)
        else:
            print(f"logs and databases kept in {stack.var_dir}", file=sys.stderr)
    return result


# ---------------------------------------------------------------------------- main

def stop_on_sigterm(signum, frame):  # noqa: ANN001
    """SIGTERM stops a benchmark as Ctrl-C does: every process it started is stopped."""
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description="Turn latency: full stack against bare Rasa.")
    parser.add_argument("--levels", default="1,10,50", help="concurrent conversations per level (default 1,10,50)")
    parser.add_argument("--turns", type=int, default=10, help="messages per conversation (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (databases, logs)")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if not levels or min(levels) < 1 or args.turns < 1:
        parser.error("levels and turns must be positive")
    signal.signal(signal.SIGTERM, stop_on_sigterm)

    started = time.monotonic()
    report: dict = {"date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), "machine": machine(),
                    "turns": args.turns}
    model = ensure_model()
    report["model"], report["rasa"] = model.name, rasa_version()
    var_dir = Path(tempfile.mkdtemp(prefix="hx-bench-"))
    service, rasa, actions, bare = free_ports(4)
    tokens = {k: secrets.token_urlsafe(24) for k in ("HX_INTERNAL_TOKEN", "HX_ADMIN_TOKEN", "HX_IDENTITY_SECRET")}
    tokens.update(NO_CLIENT_LIMITS)  # every simulated customer comes from 127.0.0.1
    stack = BenchStack(model=model, var_dir=var_dir, ports=Ports(service=service, rasa=rasa, actions=actions),
                       secrets_env=tokens, bare_port=bare)
    sampler = MemorySampler(stack)
    results = run_on_stack(stack, sampler, stack.start_bare_rasa,
                           lambda: benchmark(stack, levels, args.turns, sampler), args.keep)
    if results is None:
        return 130
    report.update(results)
    report["memory"] = memory_table(sampler)
    report["run_seconds"] = round(time.monotonic() - started)
    report["goals"] = goals(report)
    section = render(report)
    print("\n" + section)
    if not args.no_doc:
        publish(report, section, SECTION, DOC_JSON)
    return 0


if __name__ == "__main__":
    sys.exit(main())
