"""The WeChat channel under load: how soon followers get their answers, whether any
answer is lost or doubled, and what refusing callbacks that are not from WeChat costs.
(Long because a benchmark is read once, whole: five scenarios, each with its checks of
what was stored and sent, and the writer of its section of docs/benchmarks.md.)

Run from the project root::

    .venvs/service/bin/python -m bench.wechat [--levels 1,10,30] [--messages 10] [--keep]

What is measured
----------------
The whole stack runs as in production (action server, Rasa with the trained model, the
service, on free ports in a temporary folder), with the offline fake of WeChat's servers
(ops/fake_wechat.py) as the customer-service API the service sends to. This process
plays WeChat's side of the callback itself with the fake's own helpers (``incoming_xml``,
``sign_request``, ``read_passive_reply``): the XML of a follower's text message, signed
and AES-encrypted (safe mode), POSTed to ``/wechat/callback``, 5 s of waiting per attempt
and up to 3 retries of the same MsgId (``CALLBACK_RETRIES``), as WeChat does. That is one
hop fewer than going through the fake's ``/_fake/deliver``. The attempts go through one
shared HTTP client rather than the fake's ``post_like_wechat``, which builds a client
(and its TLS context) per delivery: about 23 ms of CPU each, taken from the stack on 2 cores.

* A *level* of N runs N followers at once, each a new openid, each sending ``--messages``
  texts one after the other. A follower sends its next message once it has an answer: at
  once after a passive reply, otherwise when a customer-service message reaches it (at
  most 30 s later). A closed loop, like bench/turns.py: far more traffic than N people.
* Per message:

  - *WeChat waited*: the elapsed time of the first HTTP attempt (what WeChat's servers
    hold a connection open for).
  - *Outcome*: answered passively on the first attempt, passively on a retry, through
    the customer-service API (the fake records each message with its arrival time), or
    *lost*: no complete answer within 30 s of sending.
  - *Answer time*: from sending until the customer has the whole answer, i.e. the passive
    reply was read, or the last of its customer-service messages arrived (fake's clock,
    the same machine's). Percentiles are nearest-rank over the answered messages;
    throughput is messages divided by the level's wall time (first send until the last
    follower has its last answer).
  - *Duplicates*: a customer-service message beyond what the stored replies call for,
    either repeating an answer already given passively or sent twice through the API.
    Which message an API message answers is decided afterwards from the stored replies
    (``reply_to_id``), so late parts of an earlier answer are not mistaken for the next.
    After the last level the run waits out the sender's rescue of held messages (60 s)
    before counting, so late duplicates are seen too.
  - *Non-200 attempts*: HTTP statuses other than 200 and attempts without an answer
    within 5 s.

* Storage check, after each level: every follower's customer is found through the
  admin API (``GET /api/customers``, by the masked openid: the openids of a run differ in
  the four characters staff views show), then its conversations
  (``GET /api/conversations?customer_id=…`` and ``/api/conversations/{id}``). Each sent
  message must be stored exactly once as an inbound message. The delivery records'
  states (held, pending, passive, sent, failed) are read from the service's SQLite file
  (read only), to explain any answer that did not arrive.
* Retry storm: one more level (``--storm-level`` followers) where every message is POSTed
  four times at once with the same MsgId and signature, as WeChat's retries would arrive
  if they raced. Per MsgId: one stored message, and one answer (passive in one of the
  four responses, or through the API; never both, never twice).
* The customer-service API path: one more level (``--api-level`` followers, 0 to skip)
  after the service is restarted with a passive-reply deadline of 0.01 s
  (``HX_WECHAT_REPLY_DEADLINE_SECONDS``, a setting, no code changed), so that every
  answer goes out through the sender and the fake's API. At the levels above, on this
  machine, the bot usually answers well within 4 s and that path is hardly taken.
* Refusal cost, against the running service with no other load: 500 forged requests
  (a signature that does not match), 100 billion-laughs bodies (properly signed; the
  body of tests/bot/test_wechat_protocol.py), 20 bodies of 2 MiB with a Content-Length
  and 20 streamed without one (chunked), one request at a time. Latency percentiles, the
  statuses (all must be 4xx), and the service's RSS before, at its peak and after.
* In-process protocol cost (no server, before the stack starts): verify_signature,
  parse_xml of the envelope, SafeMode.decrypt, parse_xml of the message, read_message,
  text_reply and SafeMode.encrypt of one delivery and its answer, 5,000 times.
* Memory: RSS of each process with its children, sampled every 0.5 s; CPU seconds of each
  process per message, and what the rest of the machine used meanwhile (this machine is
  shared with other work; a level where other processes took more than 0.2 cores is
  marked disturbed).

Results go to the "WeChat channel" section of docs/benchmarks.md (rewritten on every
run) and to docs/benchmarks-wechat.json.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from wechatpy.crypto import WeChatCrypto

from api.channels.wechat_sender import HELD_TOO_LONG
from bench.turns import (
    DISTURBED_CORES,
    MemorySampler,
    cpu_seconds,
    free_ports,
    log_offsets,
    machine,
    percentile,
    publish,
    rasa_version,
    read_logs,
    run_on_stack,
    stop_on_sigterm,
    service_side,
    trouble,
    tree_rss,
)
from bot.privacy import mask_identifier
from bot.wechat import SafeMode, parse_xml, read_message, text_reply, verify_signature
from ops.fake_wechat import CALLBACK_RETRIES, Account, Delivery, incoming_xml, read_passive_reply, sign_request
from ops.paths import ROOT
from ops.stack import Ports, Stack, new_wechat_sim_credentials
from ops.train import ensure_model
from tests.bot.test_wechat_protocol import billion_laughs  # the very body the protocol test refuses

DOC_JSON = ROOT / "docs" / "benchmarks-wechat.json"
SECTION = "## WeChat channel"

WECHAT_WAIT = 5.0  # s WeChat waits for each attempt (the fake's default)
LOST_AFTER = 30.0  # s without a complete answer: the message counts as lost
STORM_COPIES = 4  # the first delivery and WeChat's three retries
FORCED_DEADLINE = 0.01  # s; the API-path level's passive-reply deadline: nothing is ready that soon
# Held replies whose request died are sent by the service's sender after this; a
# duplicate caused that way shows up only then.
LATE_DUPLICATE_WAIT = HELD_TOO_LONG.total_seconds() + 5
POLL_SECONDS = 0.2  # how often the fake's record of customer-service messages is read
QUIET_SECONDS = 3.0  # after a level: no new customer-service message for this long, then check
REFUSALS = {"forged signature": 500, "billion laughs": 100, "2 MiB, Content-Length": 20, "2 MiB, chunked": 20}
HUGE_BODY_BYTES = 2 * 2**20
PROTOCOL_ITERATIONS = 5000
PROCESSES = ("service", "rasa", "actions", "wechat_sim")
MB = 2**20

# What followers ask, in this order, the wording varied per follower: greeting, order
# status, offers, returns, delivery, thanks. Nothing asks for a person or complains (the
# conversation would go to staff) and nobody says goodbye (that starts the survey).
ROTATION = [
    ["你好", "您好", "在吗"],
    ["我的订单到哪了", "帮我查一下订单到哪了", "我的快递到哪了"],
    ["有什么优惠吗", "有优惠券吗", "现在有什么活动吗"],
    ["怎么退货", "退货流程是什么", "退货运费谁出"],
    ["发货要多久", "什么时候发货呀", "下单后多久能到"],
    ["谢谢", "谢谢你", "多谢啦"],
]
# A typical answer's length, for the in-process protocol cost.
SAMPLE_ANSWER = "亲，现货商品下单后48小时内发货，默认中通快递，江浙沪一般次日达，偏远地区3-5天～"


def script(follower: int, messages: int) -> list[str]:
    return [ROTATION[i % len(ROTATION)][(follower + i // len(ROTATION)) % len(ROTATION[0])]
            for i in range(messages)]


# ---------------------------------------------------------------------------- playing WeChat

@dataclass
class WeChatSide:
    """What WeChat knows: the account's token and EncodingAESKey, and where the callback is."""

    token: str
    crypto: WeChatCrypto
    account: Account
    callback_url: str

    @classmethod
    def of(cls, stack: Stack) -> WeChatSide:
        env = stack.secrets_env
        return cls(env["HX_WECHAT_TOKEN"],
                   WeChatCrypto(env["HX_WECHAT_TOKEN"], env["HX_WECHAT_AES_KEY"], env["HX_WECHAT_APP_ID"]),
                   Account(app_id=env["HX_WECHAT_APP_ID"], app_secret=env["HX_WECHAT_APP_SECRET"]),
                   f"{stack.service_url}/wechat/callback")

    def signed(self, openid: str, text: str, msg_id: str):
        xml = incoming_xml(self.account, Delivery(openid=openid, text=text), msg_id, int(time.time()))
        return sign_request(self.token, self.crypto, self.account.gh_id, openid, xml)


class Openids:
    """New followers' openids: 28 characters starting with "o", like WeChat's, whose first
    four characters differ within a run, as staff views show no more (bot/privacy.py)."""

    def __init__(self) -> None:
        self.masks: set[str] = set()

    def new(self) -> str:
        while True:
            openid = "o" + secrets.token_urlsafe(27)[:27]
            if mask_identifier(openid) not in self.masks:
                self.masks.add(mask_identifier(openid))
                return openid


@dataclass
class Sent:
    """One message a follower sent: what WeChat saw, and (after reconcile) what the customer got."""

    text: str
    msg_id: str
    sent_at: float  # wall clock, comparable with the fake's arrival times
    attempts: list[dict]  # status (None: no answer within 5 s) and elapsed_ms, in order
    passive: str | None = None  # the passive reply's text
    passive_after_s: float | None = None  # from sending until it was read
    passive_attempt: int | None = None  # which attempt carried it (0: the first)
    passive_copies: int = 0  # storm: how many of the concurrent responses carried it
    concurrent: bool = False  # the storm: its attempts were sent at once, none is a retry
    problem: str | None = None  # a passive reply that could not be read
    # Set by reconcile():
    outcome: str = ""  # passive_first | passive_retry | api | lost
    lost_reason: str | None = None
    answer_s: float | None = None
    stored_times: int = 0


@dataclass
class Follower:
    openid: str
    texts: list[str]
    sent: list[Sent] = field(default_factory=list)


class PushedMessages:
    """The customer-service messages the service sent, as the fake WeChat recorded them.
    One poll for all followers: one per follower would take CPU from the stack."""

    def __init__(self, sim_url: str):
        self.sim_url = sim_url
        self.by_openid: dict[str, list[dict]] = defaultdict(list)
        self.read = 0

    async def refresh(self, client: httpx.AsyncClient) -> None:
        messages = (await client.get("/_fake/messages")).json()
        for message in messages[self.read:]:  # the fake only appends
            self.by_openid[message["touser"]].append(message)
        self.read = len(messages)

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.sim_url, timeout=10) as client:
            while True:
                try:
                    await self.refresh(client)
                except httpx.HTTPError:
                    pass  # read again at the next poll
                await asyncio.sleep(POLL_SECONDS)

    def count(self, openid: str) -> int:
        return len(self.by_openid[openid])

    async def wait_for_more(self, openid: str, seen: int, until: float) -> None:
        while self.count(openid) <= seen and time.time() < until:
            await asyncio.sleep(POLL_SECONDS / 2)

    async def wait_until_quiet(self, longest: float) -> None:
        deadline, last, quiet_since = time.monotonic() + longest, self.read, time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - quiet_since < QUIET_SECONDS:
            await asyncio.sleep(POLL_SECONDS)
            if self.read != last:
                last, quiet_since = self.read, time.monotonic()


async def post_once(client: httpx.AsyncClient, url: str, request) -> tuple[dict, httpx.Response | None, float]:
    """One attempt, no retry: (status and elapsed_ms, the response, when it ended)."""
    started = time.perf_counter()
    try:
        resp = await client.post(url, params=request.params, content=request.body.encode(),
                                 headers={"Content-Type": "text/xml"})
    except httpx.TransportError:
        resp = None
    ended = time.perf_counter()
    return {"status": resp.status_code if resp is not None else None,
            "elapsed_ms": (ended - started) * 1000}, resp, ended


async def deliver(side: WeChatSide, openid: str, text: str, msg_id: str, copies: int,
                  client: httpx.AsyncClient) -> Sent:
    """WeChat delivering one message: with its retries (``copies`` 1), or ``copies``
    identical POSTs at once (the retry storm)."""
    request = side.signed(openid, text, msg_id)
    sent = Sent(text, msg_id, sent_at=time.time(), attempts=[])
    started = time.perf_counter()
    answered = []  # (attempt, response, when it ended) of each attempt that got an HTTP answer
    if copies == 1:
        for attempt in range(1 + CALLBACK_RETRIES):  # WeChat tries again only when no answer came
            outcome, resp, ended = await post_once(client, side.callback_url, request)
            sent.attempts.append(outcome)
            if resp is not None:
                answered.append((attempt, resp, ended))
                break
    else:
        sent.concurrent = True
        results = await asyncio.gather(*(post_once(client, side.callback_url, request) for _ in range(copies)))
        sent.attempts = [outcome for outcome, _, _ in results]
        answered = [(i, resp, ended) for i, (_, resp, ended) in enumerate(results) if resp is not None]
    for index, resp, ended in sorted(answered, key=lambda a: a[2]):
        if resp.status_code != 200:
            continue
        reply, problem = read_passive_reply(resp.text, side.crypto, side.account.gh_id, openid)
        sent.problem = sent.problem or problem
        if reply is None:
            continue
        sent.passive_copies += 1
        if sent.passive is None:
            sent.passive, sent.passive_attempt, sent.passive_after_s = reply, index, ended - started
        elif reply != sent.passive:
            sent.problem = "the concurrent responses carried different passive replies"
    return sent


async def talk(side: WeChatSide, pushed: PushedMessages, follower: Follower, copies: int,
               msg_ids: itertools.count, client: httpx.AsyncClient) -> None:
    for text in follower.texts:
        seen = pushed.count(follower.openid)
        sent = await deliver(side, follower.openid, text, str(next(msg_ids)), copies, client)
        follower.sent.append(sent)
        if sent.passive is None:  # "success": the answer can only come through the API
            await pushed.wait_for_more(follower.openid, seen, sent.sent_at + LOST_AFTER)


# ---------------------------------------------------------------------------- reading back

@dataclass
class Stored:
    """A follower's WeChat conversations as an admin reads them through the API."""

    found: bool
    inbound: list[dict] = field(default_factory=list)  # in the order stored
    replies: dict[int, list[str]] = field(default_factory=dict)  # inbound id: texts answering it, in order
    other_outbound: list[str] = field(default_factory=list)  # outbound messages answering no inbound one
    handlers: list[str] = field(default_factory=list)
    handoffs: int = 0
    system_replies: int = 0
    not_understood: int = 0


async def customer_ids(staff: httpx.AsyncClient, openids: list[str]) -> dict[str, int | None]:
    """Each follower's customer id, found by its masked WeChat identity in the customer list
    (most recently seen first, so the pages are few)."""
    wanted = {mask_identifier(o): o for o in openids}
    found: dict[str, list[int]] = defaultdict(list)
    offset = 0
    while True:
        page = (await staff.get("/api/customers", params={"limit": 200, "offset": offset})).json()
        for customer in page["items"]:
            for identity in customer["identities"]:
                if identity["kind"] == "wechat_openid" and identity["value_masked"] in wanted:
                    found[wanted[identity["value_masked"]]].append(customer["id"])
        offset += len(page["items"])
        if all(o in found for o in openids) or not page["items"] or offset >= page["total"]:
            break
    return {o: found[o][0] if len(found[o]) == 1 else None for o in openids}


async def read_back(staff: httpx.AsyncClient, customer_id: int | None) -> Stored:
    if customer_id is None:
        return Stored(found=False)
    stored = Stored(found=True)
    convs = (await staff.get("/api/conversations", params={"customer_id": customer_id, "limit": 200})).json()
    messages = []
    for conv in convs["items"]:
        stored.handlers.append(conv["handler"])
        messages += (await staff.get(f"/api/conversations/{conv['id']}")).json()["messages"]
    messages.sort(key=lambda m: m["id"])
    for m in messages:
        if m["direction"] == "inbound":
            stored.inbound.append(m)
            stored.not_understood += m["intent"] == "nlu_fallback"
        elif m["reply_to_id"] is not None:
            stored.replies.setdefault(m["reply_to_id"], []).append(m["text"])
        else:
            stored.other_outbound.append(m["text"])
        if m["direction"] == "outbound":
            stored.handoffs += m["template"] == "utter_handoff"
            stored.system_replies += m["author"] == "system"
    return stored


async def storage_check(service_url: str, admin_token: str, followers: list[Follower]) -> dict[str, Stored]:
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=service_url, headers=headers, timeout=30) as staff:
        ids = await customer_ids(staff, [f.openid for f in followers])
        return {f.openid: await read_back(staff, ids[f.openid]) for f in followers}


def delivery_states(database: Path) -> dict[str, int]:
    """How the service's outbound deliveries stand (read only: the service owns the file)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        return dict(db.execute("SELECT status, COUNT(*) FROM outbound_deliveries GROUP BY status").fetchall())


# ---------------------------------------------------------------------------- what the customer got

def reconcile(follower: Follower, stored: Stored, pushed: list[dict]) -> Counter:
    """Decide each sent message's outcome and answer time from what WeChat saw, the stored
    replies and the customer-service messages that reached the follower; count duplicates."""
    counts: Counter = Counter()
    # Which stored inbound message is which sent one: in order, by text.
    unmatched = list(stored.inbound)
    inbound_of: dict[int, dict] = {}
    for i, sent in enumerate(follower.sent):
        same = [m for m in unmatched if m["text"] == sent.text.strip()]
        if same:
            inbound_of[i] = same[0]
            unmatched.remove(same[0])
    # How often each was stored: the admin API shows no MsgId, so by text. When a text was
    # sent n times and stored m times, the first min(m, n) count as stored, the first m - n twice.
    stored_counts = Counter(m["text"] for m in stored.inbound)
    sent_counts = Counter(s.text.strip() for s in follower.sent)
    seen_text: Counter = Counter()
    for sent in follower.sent:
        text = sent.text.strip()
        nth, extra = seen_text[text], stored_counts[text] - sent_counts[text]
        sent.stored_times = (nth < stored_counts[text]) + (nth < extra)
        seen_text[text] += 1
    counts["stored_twice"] = sum((stored_counts - sent_counts).values())
    counts["not_stored"] = sum((sent_counts - stored_counts).values())

    # What each message's answer owes through the API: the stored replies the passive reply did not carry.
    owed: dict[int, list[str]] = {}
    carried: list[str] = []
    for i, sent in enumerate(follower.sent):
        replies = stored.replies.get(inbound_of[i]["id"], []) if i in inbound_of else []
        taken = 0
        if sent.passive is not None:
            taken = next((k for k in range(len(replies), 0, -1) if "\n\n".join(replies[:k]) == sent.passive), None)
            if taken is None:  # not the stored replies joined: count it as carrying them all
                counts["passive_unlike_stored"] += 1
                taken = len(replies)
        carried += replies[:taken]
        owed[i] = list(replies[taken:])

    # Each customer-service message answers the earliest message sent before it that owes its text.
    arrived: dict[int, list[float]] = defaultdict(list)
    unclaimed_other = list(stored.other_outbound)
    for message in sorted(pushed, key=lambda m: m["at"]):
        match = next((i for i, sent in enumerate(follower.sent)
                      if sent.sent_at <= message["at"] + 0.05 and message["content"] in owed[i]), None)
        if match is not None:
            owed[match].remove(message["content"])
            arrived[match].append(message["at"])
        elif message["content"] in unclaimed_other:
            unclaimed_other.remove(message["content"])
        elif message["content"] in carried:
            counts["duplicate_passive_and_api"] += 1
        elif any(message["content"] in r for r in stored.replies.values()):
            counts["duplicate_api_twice"] += 1
        else:
            counts["unexpected_api_message"] += 1

    for i, sent in enumerate(follower.sent):
        sent.outcome, sent.lost_reason, sent.answer_s = "", None, None
        if sent.passive is None and i not in inbound_of:
            sent.outcome, sent.lost_reason = "lost", "not stored"
        elif sent.passive is None and not arrived[i] and not owed[i]:
            sent.outcome, sent.lost_reason = "lost", "no reply stored"
        elif owed[i]:
            sent.outcome, sent.lost_reason = "lost", "answer not delivered"
        else:
            ends = [*arrived[i]] + ([sent.sent_at + sent.passive_after_s] if sent.passive is not None else [])
            sent.answer_s = max(ends) - sent.sent_at
            if sent.answer_s > LOST_AFTER:
                sent.outcome, sent.lost_reason = "lost", "answered after more than 30 s"
            elif sent.passive is None:
                sent.outcome = "api"
            else:
                sent.outcome = "passive_first" if sent.passive_attempt == 0 or sent.concurrent else "passive_retry"
    return counts


# ---------------------------------------------------------------------------- one level

@dataclass
class Level:
    kind: str  # "level", "storm" or "api" (every answer through the customer-service API)
    followers: int
    messages: int
    copies: int
    crowd: list[Follower]
    wall_s: float
    cpu: dict[str, float]
    logs: dict[str, list[str]]
    stored: dict[str, Stored] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)


class Bench:
    def __init__(self, stack: Stack, sampler: MemorySampler):
        self.stack, self.sampler = stack, sampler
        self.side = WeChatSide.of(stack)
        self.pushed = PushedMessages(stack.wechat_sim_url)
        self.openids = Openids()
        self.msg_ids = itertools.count(10 ** 18 + secrets.randbelow(10 ** 17))  # WeChat's are 64-bit numbers
        self.followers_made = 0

    def new_followers(self, count: int, messages: int) -> list[Follower]:
        crowd = [Follower(self.openids.new(), script(self.followers_made + i, messages)) for i in range(count)]
        self.followers_made += count
        return crowd

    async def run_level(self, kind: str, followers: int, messages: int) -> Level:
        copies = STORM_COPIES if kind == "storm" else 1
        crowd = self.new_followers(followers, messages)
        self.sampler.phase = f"{kind}@{followers}"
        cpu0, logs0 = cpu_seconds(self.stack), log_offsets(self.stack)
        started = time.perf_counter()
        limits = httpx.Limits(max_connections=followers * copies, max_keepalive_connections=followers * copies)
        async with httpx.AsyncClient(timeout=WECHAT_WAIT, limits=limits) as client:
            await asyncio.gather(*(talk(self.side, self.pushed, f, copies, self.msg_ids, client) for f in crowd))
        wall = time.perf_counter() - started
        cpu1 = cpu_seconds(self.stack)
        self.sampler.phase = "settling"
        await self.pushed.wait_until_quiet(LOST_AFTER)
        level = Level(kind, followers, messages, copies, crowd, wall, {k: cpu1[k] - cpu0[k] for k in cpu1 if k in cpu0},
                      read_logs(self.stack, logs0))
        level.stored = await storage_check(self.stack.service_url, self.stack.secrets_env["HX_ADMIN_TOKEN"], crowd)
        level.deliveries = delivery_states(self.stack.var_dir / "huixiang.db")
        return level

    async def refusals(self) -> dict:
        """Requests that are not WeChat's, one at a time; the service's latency and memory."""
        service_pid = self.stack.procs["service"].pid
        proper = self.side.signed("o" + "x" * 27, "你好", "1")
        out = {}
        async with httpx.AsyncClient(timeout=30) as client:
            for kind, count in REFUSALS.items():
                self.sampler.phase = f"refusal:{kind}"
                await asyncio.sleep(1)
                rss_before = tree_rss(service_pid)
                ms, statuses = [], Counter()
                for _ in range(count):
                    params, body = self.hostile(kind, proper)
                    started = time.perf_counter()
                    try:
                        resp = await client.post(self.side.callback_url, params=params, content=body,
                                                 headers={"Content-Type": "text/xml"})
                        statuses[str(resp.status_code)] += 1
                    except httpx.HTTPError as exc:
                        statuses[type(exc).__name__] += 1
                    ms.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(1)
                peak = self.sampler.peaks.get(self.sampler.phase, {}).get("service", 0)
                out[kind] = {"requests": count, "statuses": dict(statuses),
                             "all_4xx": all(s.isdigit() and 400 <= int(s) < 500 for s in statuses),
                             "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
                             "max_ms": round(max(ms), 2), "service_rss_before_mb": round(rss_before / MB, 1),
                             "service_rss_peak_mb": round(max(peak, rss_before) / MB, 1),
                             "service_rss_after_mb": round(tree_rss(service_pid) / MB, 1)}
        return out

    def hostile(self, kind: str, proper):
        """The query and body of one hostile request; fresh timestamps, so only the attack is refused."""
        if kind == "forged signature":
            params = {**proper.params, "timestamp": str(int(time.time())), "signature": secrets.token_hex(20)}
            return params, proper.body.encode()
        params = self.side.signed("o" + "x" * 27, "你好", "1").params
        if kind == "billion laughs":
            return params, billion_laughs()
        if kind == "2 MiB, Content-Length":
            return params, b"<xml>" + b"a" * HUGE_BODY_BYTES + b"</xml>"
        return params, chunks(HUGE_BODY_BYTES)


async def chunks(total: int, size: int = 64 * 1024):
    """A body without Content-Length: httpx sends it chunked, so the service must count as it reads."""
    yield b"<xml>"
    for _ in range(total // size):
        yield b"a" * size
    yield b"</xml>"


# ---------------------------------------------------------------------------- numbers

def summarise(level: Level, pushed: PushedMessages) -> dict:
    duplicates: Counter = Counter()
    for follower in level.crowd:
        duplicates += reconcile(follower, level.stored[follower.openid], pushed.by_openid[follower.openid])
    sent = [s for f in level.crowd for s in f.sent]
    outcomes = Counter(s.outcome for s in sent)
    answered_ms = [s.answer_s * 1000 for s in sent if s.answer_s is not None and s.outcome != "lost"]
    # What WeChat's servers wait on: the first attempt; in the storm every one of the concurrent copies.
    first_wait = [a["elapsed_ms"] for s in sent for a in (s.attempts if s.concurrent else s.attempts[:1])]
    attempts = [a for s in sent for a in s.attempts]
    stored = level.stored.values()
    used = level.cpu
    others = used["machine"] - sum(sec for name, sec in used.items() if name != "machine")

    def spread(ms: list[float]) -> dict:
        if not ms:
            return {}
        return {"p50_ms": round(percentile(ms, 50)), "p95_ms": round(percentile(ms, 95)),
                "p99_ms": round(percentile(ms, 99)), "max_ms": round(max(ms))}

    examples = [{"openid": mask_identifier(f.openid), "text": s.text, "msg_id": s.msg_id,
                 "outcome": s.outcome, "reason": s.lost_reason, "attempts": s.attempts,
                 "passive": s.passive is not None, "answer_s": None if s.answer_s is None else round(s.answer_s, 2)}
                for f in level.crowd for s in f.sent if s.outcome == "lost" or s.problem][:8]
    return {
        "kind": level.kind, "followers": level.followers, "messages_each": level.messages,
        "copies_per_message": level.copies,
        "messages": len(sent), "wall_s": round(level.wall_s, 2),
        "throughput": round(len(sent) / level.wall_s, 2),
        "outcomes": {k: outcomes.get(k, 0) for k in ("passive_first", "passive_retry", "api", "lost")},
        "passive_share": round((outcomes["passive_first"] + outcomes["passive_retry"]) / len(sent), 3),
        "api_share": round(outcomes["api"] / len(sent), 3),
        "lost_reasons": dict(Counter(s.lost_reason for s in sent if s.lost_reason)),
        "duplicates": duplicates["duplicate_passive_and_api"] + duplicates["duplicate_api_twice"],
        "duplicate_kinds": {k: v for k, v in duplicates.items() if k.startswith(("duplicate", "unexpected"))},
        "passive_unlike_stored": duplicates["passive_unlike_stored"],
        "passive_reply_problems": sum(1 for s in sent if s.problem),
        "answer": spread(answered_ms),
        "wechat_waited": spread(first_wait),
        "attempts": len(attempts),
        "retries": sum(len(s.attempts) - 1 for s in sent) if level.copies == 1 else 0,
        "non_200_attempts": sum(1 for a in attempts if a["status"] != 200),
        "attempt_statuses": dict(Counter(str(a["status"] or "no answer in 5 s") for a in attempts)),
        "storage": {
            "customers_found": sum(1 for st in stored if st.found),
            "sent": len(sent),
            "stored_once": sum(1 for s in sent if s.stored_times == 1),
            "not_stored": duplicates["not_stored"], "stored_twice": duplicates["stored_twice"],
            "escalated_conversations": sum(1 for st in stored for h in st.handlers if h != "bot"),
            "handoff_replies": sum(st.handoffs for st in stored),
            "system_replies": sum(st.system_replies for st in stored),
            "not_understood": sum(st.not_understood for st in stored),
        },
        "storm": storm_checks(level) if level.kind == "storm" else None,
        "delivery_states_after": level.deliveries,
        "cpu_ms_per_message": {name: round(sec * 1000 / len(sent), 1) for name, sec in used.items()
                               if name != "machine"},
        "other_processes_cores": round(max(others, 0) / level.wall_s, 2),
        "service_side": service_side(level.logs.get("service", [])),
        "log_trouble": trouble(level.logs),
        "examples": examples,
    }


def storm_checks(level: Level) -> dict:
    """Per MsgId delivered four times at once: stored once, answered once."""
    sent = [s for f in level.crowd for s in f.sent]
    return {
        "msg_ids": len(sent),
        "stored_once": sum(1 for s in sent if s.stored_times == 1),
        "responses_carrying_the_answer": dict(sorted(Counter(str(s.passive_copies) for s in sent).items())),
        "answered_passively": sum(1 for s in sent if s.passive is not None),
        "answered_through_api": sum(1 for s in sent if s.outcome == "api"),
    }


def protocol_cost(iterations: int = PROTOCOL_ITERATIONS) -> dict:
    """bot/wechat.py's work on one delivery and its passive answer, in this process."""
    creds = new_wechat_sim_credentials()
    token, aes_key, app_id = creds["HX_WECHAT_TOKEN"], creds["HX_WECHAT_AES_KEY"], creds["HX_WECHAT_APP_ID"]
    side = WeChatSide(token, WeChatCrypto(token, aes_key, app_id), Account(app_id, creds["HX_WECHAT_APP_SECRET"]),
                      "")
    safe = SafeMode(token, aes_key, app_id)
    request = side.signed("o" + secrets.token_urlsafe(27)[:27], "我的订单到哪了", "6054768590064713728")
    p, body = request.params, request.body.encode()
    steps = {"verify_signature": lambda _: verify_signature(token, p["signature"], p["timestamp"], p["nonce"]),
             "parse_xml (envelope)": lambda _: parse_xml(body),
             "SafeMode.decrypt": lambda envelope: safe.decrypt(envelope, p["msg_signature"], p["timestamp"],
                                                                p["nonce"]),
             "parse_xml (message)": parse_xml,
             "read_message": read_message,
             "text_reply": lambda message: text_reply(message, SAMPLE_ANSWER),
             "SafeMode.encrypt": lambda reply: safe.encrypt(reply, p["nonce"], p["timestamp"])}
    spent = {name: 0 for name in steps}
    totals = []
    for _ in range(iterations):
        value, total = None, 0
        for name, step in steps.items():  # each step takes the one before's result
            started = time.perf_counter_ns()
            value = step(value)
            took = time.perf_counter_ns() - started
            spent[name] += took
            total += took
        totals.append(total / 1000)
    return {"iterations": iterations, "answer_chars": len(SAMPLE_ANSWER),
            "per_step_us": {name: round(ns / iterations / 1000, 1) for name, ns in spent.items()},
            "total_us": {"mean": round(sum(totals) / len(totals), 1), "p50": round(percentile(totals, 50), 1),
                         "p95": round(percentile(totals, 95), 1)}}


def memory(sampler: MemorySampler) -> dict:
    def peak(prefix: str, name: str) -> int:
        return round(max((p.get(name, 0) for phase, p in sampler.peaks.items() if phase.startswith(prefix)),
                         default=0) / MB)

    return {name: {"idle_mb": round(sampler.peaks.get("idle", {}).get(name, 0) / MB),
                   "peak_levels_mb": peak("level@", name), "peak_storm_mb": peak("storm@", name),
                   "peak_refusals_mb": peak("refusal:", name), "peak_api_path_mb": peak("api@", name)}
            for name in PROCESSES}


# ---------------------------------------------------------------------------- the run

async def benchmark(stack: Stack, sampler: MemorySampler, levels: list[int], messages: int,
                    storm_level: int, api_level: int) -> dict:
    bench = Bench(stack, sampler)
    poller = asyncio.create_task(bench.pushed.run())
    runs: list[Level] = []

    async def run(kind: str, followers: int, label: str) -> None:
        print(f"{followers} followers × {messages} messages{label}…", flush=True)
        await asyncio.sleep(2)  # let the previous level's writes settle
        level = await bench.run_level(kind, followers, messages)
        runs.append(level)
        s = summarise(level, bench.pushed)
        print(f"    answer p50 {s['answer'].get('p50_ms')} ms, p95 {s['answer'].get('p95_ms')} ms; "
              f"passive {s['outcomes']['passive_first'] + s['outcomes']['passive_retry']}, api "
              f"{s['outcomes']['api']}, lost {s['outcomes']['lost']}, duplicates {s['duplicates']}, "
              f"non-200 {s['non_200_attempts']}; stored once {s['storage']['stored_once']}/{s['messages']}; "
              f"{s['throughput']:.1f} msg/s", flush=True)

    try:
        print("warming up…", flush=True)
        await bench.run_level("warm-up", 3, 4)
        sampler.phase = "idle"
        await asyncio.sleep(3)
        load_before = [round(x, 2) for x in os.getloadavg()]
        for followers in levels:
            await run("level", followers, "")
        await run("storm", storm_level, f", each POSTed {STORM_COPIES}× at once with the same MsgId")

        print("refusing forged and hostile requests…", flush=True)
        refused = await bench.refusals()
        for kind, r in refused.items():
            print(f"    {kind}: {r['statuses']}, p50 {r['p50_ms']} ms, RSS {r['service_rss_before_mb']} → "
                  f"{r['service_rss_after_mb']} MB", flush=True)

        if api_level:
            print(f"restarting the service with a {FORCED_DEADLINE:g} s passive-reply deadline…", flush=True)
            sampler.phase = "restart"
            await asyncio.to_thread(stack.stop, "service")
            stack.secrets_env["HX_WECHAT_REPLY_DEADLINE_SECONDS"] = str(FORCED_DEADLINE)
            stack.start_service()
            await asyncio.to_thread(stack.wait_ready, 120)
            await run("api", api_level, ", every answer through the customer-service API")
        last_level_end = time.monotonic()

        sampler.phase = "late duplicates"
        wait = LATE_DUPLICATE_WAIT - (time.monotonic() - last_level_end)
        print(f"waiting {wait:.0f} s for late customer-service messages…", flush=True)
        await asyncio.sleep(wait)
        async with httpx.AsyncClient(base_url=stack.wechat_sim_url, timeout=10) as sim:
            await bench.pushed.refresh(sim)
            stats = (await sim.get("/_fake/stats")).json()
        final = [summarise(level, bench.pushed) for level in runs]  # now with every late message
        deliveries = delivery_states(stack.var_dir / "huixiang.db")
    finally:
        poller.cancel()
    return {"levels": [s for s in final if s["kind"] == "level"],
            "storm": next(s for s in final if s["kind"] == "storm"),
            "api_path": next((s for s in final if s["kind"] == "api"), None),
            "refusals": refused, "fake_wechat_stats": stats, "delivery_states_at_end": deliveries,
            "load_average_before_levels": load_before}


# ---------------------------------------------------------------------------- the report

def render(report: dict) -> str:
    m, p = report["machine"], report["protocol"]
    lines = [
        SECTION, "",
        "Written by `bench/wechat.py` (`.venvs/service/bin/python -m bench.wechat`); every run rewrites this "
        "section and `docs/benchmarks-wechat.json`. What is measured: the whole stack (service, Rasa, action "
        "server) with the offline fake of WeChat's servers as the customer-service API; the benchmark plays "
        "WeChat's side of the callback with the fake's helpers (signed, AES-encrypted XML; 5 s per attempt; "
        "up to 3 retries of a MsgId). N followers at once, each sending its next message as soon as it has an "
        "answer. *WeChat waited*: the first attempt's duration. *Answer*: from sending until the customer has "
        "the whole answer, passively in the callback's response or through customer-service messages (the "
        "fake's arrival times); answers later than 30 s count as lost. Duplicates are customer-service "
        "messages beyond what the stored replies call for, counted after waiting out the sender's 60 s "
        "rescue of held replies. Storage is read back through the admin API. Percentiles are nearest-rank.",
        "",
        f"- Date: {report['date']}; the whole run (start-up, warm-up, all parts) took "
        f"{report['run_seconds'] / 60:.1f} min",
        f"- Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, {m['os']}, **shared with other "
        f"work**: load average at the start {' / '.join(str(x) for x in m['load_average_before'])}, after the "
        f"warm-up {' / '.join(str(x) for x in report['load_average_before_levels'])}; the cores other processes "
        "took during each level are in the tables; the load generator runs on the same cores",
        f"- Model: `{report['model']}` (Rasa {report['rasa']}); service deadline for a passive reply "
        "4 s (`HX_WECHAT_REPLY_DEADLINE_SECONDS`)",
        f"- {report['messages']} messages per follower, in turn: {'、'.join(v[0] for v in ROTATION)} (wording "
        "varied per follower); nothing that asks for a person, complains or says goodbye",
        "",
        "### Answers to followers", "",
        "| followers at once | messages | passive, 1st attempt | passive, on a retry | through the API | lost "
        "| duplicated | non-200 attempts | answer p50 / p95 / p99 / max ms | WeChat waited p50 / p95 / max ms "
        "| messages/s | other processes (cores) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in rows(report):
        o, a, w = s["outcomes"], s["answer"], s["wechat_waited"]
        name = row_name(s)
        lines.append(
            f"| {name} | {s['messages']} | {o['passive_first']} | {o['passive_retry']} | {o['api']} | {o['lost']} "
            f"| {s['duplicates']} | {s['non_200_attempts']} | {a.get('p50_ms', '–')} / {a.get('p95_ms', '–')} / "
            f"{a.get('p99_ms', '–')} / {a.get('max_ms', '–')} | {w.get('p50_ms', '–')} / {w.get('p95_ms', '–')} / "
            f"{w.get('max_ms', '–')} | {s['throughput']:.1f} | {s['other_processes_cores']:.2f}"
            f"{' (disturbed)' if s['other_processes_cores'] > DISTURBED_CORES else ''} |")
    lines += [
        "", "*storm*: every message POSTed four times at once with the same MsgId, so it has four attempts; "
        "\"WeChat waited\" there is over all of them. "
        f"*API path*: the service restarted with a {FORCED_DEADLINE:g} s passive-reply deadline, so every answer "
        "goes out through the sender and WeChat's customer-service API (here the fake's).", "",
        "### Stored exactly once (read back through the admin API)", "",
        "| followers at once | sent | customers found | stored once | not stored | stored twice | escalated "
        "conversations | system replies | not understood (`nlu_fallback`) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in rows(report):
        st = s["storage"]
        name = row_name(s)
        lines.append(f"| {name} | {st['sent']} | {st['customers_found']} / {s['followers']} | {st['stored_once']} "
                     f"| {st['not_stored']} | {st['stored_twice']} | {st['escalated_conversations']} "
                     f"| {st['system_replies']} | {st['not_understood']} |")
    storm, sc = report["storm"], report["storm"]["storm"]
    lines += [
        "", "### Retry storm", "",
        f"{storm['followers']} followers × {storm['messages_each']} messages, each POSTed {STORM_COPIES} times at "
        f"once with the same MsgId: {sc['stored_once']} of {sc['msg_ids']} MsgIds stored exactly once; "
        f"{sc['answered_passively']} answered passively, {sc['answered_through_api']} through the API, "
        f"{storm['outcomes']['lost']} lost, {storm['duplicates']} duplicated customer-service messages. "
        "Responses (of the four) carrying the passive answer, per MsgId: "
        + ", ".join(f"{n} → {c} MsgIds" for n, c in sc["responses_carrying_the_answer"].items()) + ".", "",
        "### Refusing what is not from WeChat (one request at a time, nothing else running)", "",
        "| request | count | statuses | p50 ms | p95 ms | max ms | service RSS before / peak / after MB |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for kind, r in report["refusals"].items():
        statuses = ", ".join(f"{n} × {s}" for s, n in r["statuses"].items())
        lines.append(f"| {kind} | {r['requests']} | {statuses}{'' if r['all_4xx'] else ' **(not all 4xx)**'} "
                     f"| {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['max_ms']:.1f} | {r['service_rss_before_mb']:.0f} "
                     f"/ {r['service_rss_peak_mb']:.0f} / {r['service_rss_after_mb']:.0f} |")
    lines += [
        "", f"### Protocol cost in process ({p['iterations']} deliveries, no server)", "",
        "| step | µs per delivery |", "|---|---:|",
        *(f"| {name} | {us} |" for name, us in p["per_step_us"].items()),
        f"| **together** (mean; p50 / p95) | **{p['total_us']['mean']}** ({p['total_us']['p50']} / "
        f"{p['total_us']['p95']}) |",
        "", "### Memory (RSS, process and its children)", "",
        "| process | idle after warm-up MB | peak in the levels MB | peak in the storm MB | peak while refusing MB "
        "| peak on the API path MB |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {name} | {v['idle_mb']} | {v['peak_levels_mb']} | {v['peak_storm_mb']} | {v['peak_refusals_mb']} "
          f"| {v['peak_api_path_mb']} |" for name, v in report["memory"].items()),
        "", "### Reading the numbers", "", *interpretation(report), "",
    ]
    return "\n".join(lines)


def rows(report: dict) -> list[dict]:
    return [*report["levels"], report["storm"], *([report["api_path"]] if report["api_path"] else [])]


def row_name(s: dict) -> str:
    return f"{s['followers']}" + {"level": "", "storm": " (storm)", "api": " (API path)"}[s["kind"]]


def interpretation(report: dict) -> list[str]:
    """Sentences from the measured numbers; nothing here is written by hand after a run."""
    out = []
    for s in rows(report):
        name = f"{row_name(s)} at once"
        cpu = s["cpu_ms_per_message"]
        callback = s["service_side"].get("POST /wechat/callback", {})
        text = (f"- {name}: {s['passive_share']:.0%} answered passively, {s['api_share']:.0%} through the API; "
                f"CPU per message: service {cpu.get('service', 0):.0f} ms, Rasa {cpu.get('rasa', 0):.0f} ms, "
                f"actions {cpu.get('actions', 0):.0f} ms, fake WeChat {cpu.get('wechat_sim', 0):.0f} ms, load "
                f"generator {cpu.get('load generator', 0):.0f} ms")
        if callback:
            text += (f"; the service's own log times the callback at p50 {callback['p50_ms']:.0f} ms, p95 "
                     f"{callback['p95_ms']:.0f} ms over {callback['calls']} requests")
        text += "."
        if s["outcomes"]["lost"] or s["duplicates"] or s["non_200_attempts"] or s["passive_reply_problems"]:
            text += (f" **Trouble**: {s['outcomes']['lost']} lost ({s['lost_reasons'] or 'none'}), "
                     f"{s['duplicates']} duplicated ({s['duplicate_kinds'] or 'none'}), {s['non_200_attempts']} "
                     f"non-200 attempts ({s['attempt_statuses']}), {s['passive_reply_problems']} unreadable passive "
                     f"replies; delivery records afterwards: {s['delivery_states_after']}.")
        out.append(text)
        for ex in s["examples"][:3]:
            out.append(f"  - e.g. {ex['openid']} 「{ex['text']}」 (MsgId {ex['msg_id']}): {ex['outcome']}"
                       f"{', ' + ex['reason'] if ex['reason'] else ''}; attempts "
                       + ", ".join(f"{a['status'] or 'none'} in {a['elapsed_ms']:.0f} ms" for a in ex["attempts"]))
        for log, kinds in s["log_trouble"].items():
            out += [f"  - `{log}.log`: {n} × `{k.replace(chr(96), chr(39))}`" for k, n in kinds.items()]
    levels = report["levels"]
    top = max(levels, key=lambda s: s["followers"])
    if not any(s["outcomes"]["api"] for s in levels) and top["followers"] > 1:
        cpu = top["cpu_ms_per_message"]
        stack_ms = sum(cpu.get(k, 0) for k in ("service", "rasa", "actions"))
        out.append(
            f"- No answer in the levels missed the 4 s deadline, so none went through the API there. With "
            f"{top['followers']} at once the stack managed {top['throughput']:.1f} messages/s at {stack_ms:.0f} ms "
            f"of CPU each on {report['machine']['cpus']} cores; in this closed loop a message waits about "
            f"followers ÷ throughput (Little's law), so the deadline would be reached at roughly "
            f"{4 * top['throughput']:.0f} followers sending without pause (an estimate, not measured). The API "
            "path was measured on its own (the API path row).")
    storm = report["storm"]["storm"]
    if storm["responses_carrying_the_answer"] == {"1": storm["msg_ids"]}:
        out.append("- Storm: for every MsgId exactly one of the four concurrent responses carried the answer and "
                   "the other three said `success`: the service joined them to one job and answered once.")
    out.append(f"- Delivery records at the end of the run: {report['delivery_states_at_end']}; the fake WeChat "
               f"issued {report['fake_wechat_stats']['tokens_issued']} access token(s) for "
               f"{report['fake_wechat_stats']['send_calls']} customer-service sends.")
    grown = {k: r["service_rss_after_mb"] - r["service_rss_before_mb"] for k, r in report["refusals"].items()}
    out.append("- Refusals: the service's RSS changed by " + ", ".join(f"{v:+.1f} MB ({k})" for k, v in grown.items())
               + "; " + ("every refusal was a 4xx." if all(r["all_4xx"] for r in report["refusals"].values())
                         else "**not every refusal was a 4xx** (see the statuses)."))
    return out


# ---------------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description="The WeChat channel under load, and the cost of refusals.")
    parser.add_argument("--levels", default="1,10,30", help="followers at once per level (default 1,10,30)")
    parser.add_argument("--messages", type=int, default=10, help="messages per follower (default 10)")
    parser.add_argument("--storm-level", type=int, default=10, help="followers in the retry storm (default 10)")
    parser.add_argument("--api-level", type=int, default=10,
                        help="followers in the level answered only through the API (default 10; 0: skip)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (databases, logs)")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if not levels or min(levels) < 1 or args.messages < 1 or args.storm_level < 1 or args.api_level < 0:
        parser.error("levels, messages and the storm level must be positive")
    signal.signal(signal.SIGTERM, stop_on_sigterm)

    started = time.monotonic()
    report: dict = {"date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), "machine": machine(),
                    "messages": args.messages}
    print("protocol cost in process…", flush=True)
    report["protocol"] = protocol_cost()
    model = ensure_model()
    report["model"], report["rasa"] = model.name, rasa_version()
    var_dir = Path(tempfile.mkdtemp(prefix="hx-bench-wechat-"))
    service, rasa, actions, sim = free_ports(4)
    secrets_env = {**{k: secrets.token_urlsafe(24) for k in ("HX_INTERNAL_TOKEN", "HX_ADMIN_TOKEN",
                                                             "HX_IDENTITY_SECRET", "HX_ADMIN_PASSWORD")},
                   **new_wechat_sim_credentials()}
    stack = Stack(model=model, var_dir=var_dir, secrets_env=secrets_env,
                  ports=Ports(service=service, rasa=rasa, actions=actions, wechat_sim=sim))
    sampler = MemorySampler(stack)
    results = run_on_stack(stack, sampler, stack.start_fake_wechat,
                           lambda: benchmark(stack, sampler, levels, args.messages, args.storm_level, args.api_level),
                           args.keep)
    if results is None:
        return 130
    report.update(results)
    report["memory"] = memory(sampler)
    report["run_seconds"] = round(time.monotonic() - started)
    section = render(report)
    print("\n" + section)
    if not args.no_doc:
        publish(report, section, SECTION, DOC_JSON)
    return 0


if __name__ == "__main__":
    sys.exit(main())
