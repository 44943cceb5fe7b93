"""The analytics API of the admin console: the figures checked by hand on small
examples, the jobs' latest results, and the admin's pin / veto of the loop.
(Long because it covers every page of one router, api/routes/analytics.py.)"""
from __future__ import annotations

import uuid
from datetime import date, timedelta, timezone
from zoneinfo import ZoneInfo

from api.db.base import utcnow
from api.models import (
    AnalyticsReport,
    AssociationRule,
    ContentRevision,
    Conversation,
    Customer,
    FollowUpTask,
    JobRun,
    LoopChoice,
    Message,
    Offer,
    Order,
    ReplyVariant,
    StageTransition,
    StepScore,
    Survey,
)
from api.services.auth import create_staff
from tests.api.conftest import ADMIN

FETCH = {"X-Requested-With": "fetch"}
TOKEN = {"Authorization": f"Bearer {ADMIN}"}
BASE = "/api/admin/analytics"


def fresh(db):
    """See what the API committed (end the session's snapshot)."""
    db.commit()
    db.expire_all()


def customer(db, stage: str = "new", persona: str | None = None, **fields) -> Customer:
    c = Customer(display_name="测试", stage=stage, persona=persona, **fields)
    db.add(c)
    db.flush()
    return c


def survey(db, days_ago: float, stage: str, status: str, overall: int | None, nps: int | None,
           who: Customer | None = None) -> Survey:
    who = who or customer(db, stage)
    conv = Conversation(id=uuid.uuid4().hex, customer_id=who.id, channel="web")
    db.add(conv)
    db.flush()
    s = Survey(conversation_id=conv.id, customer_id=who.id, channel="web", stage=stage, trigger="goodbye",
               status=status, overall=overall, nps=nps, started_at=utcnow() - timedelta(days=days_ago))
    db.add(s)
    return s


def shop_day(days_ago: float) -> str:
    moment = (utcnow() - timedelta(days=days_ago)).replace(tzinfo=timezone.utc)
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()


def order(db, who: Customer, days_ago: float, status: str = "completed") -> None:
    db.add(Order(order_no=f"T{uuid.uuid4().hex[:12]}", customer_id=who.id, status=status, amount=100,
                 placed_at=utcnow() - timedelta(days=days_ago)))


def variant(db, text: str, stage: str = "new", persona: str | None = None, mode: str = "auto",
            enabled: bool = True, template: str = "utter_greet") -> ReplyVariant:
    row = ReplyVariant(template=template, stage=stage, persona=persona, text=text, enabled=enabled, weight=1.0,
                       loop_mode=mode, version=1, updated_by="seed")
    db.add(row)
    db.flush()
    return row


def get(client, path: str, **params):
    resp = client.get(BASE + path, params=params, headers=TOKEN)
    assert resp.status_code == 200, resp.text
    return resp.json()


def put_mode(client, kind: str, ident: int, mode: str, note: str = ""):
    return client.put(f"{BASE}/loop/{kind}/{ident}/mode", json={"mode": mode, "note": note}, headers=TOKEN)


# --- satisfaction ---------------------------------------------------------------------

def test_csat_and_nps_per_day_per_stage_and_the_response_rate(client, db):
    rows = [  # days ago, stage at the time, status, overall 1-5, nps 0-10
        (2, "new", "completed", 5, 10),
        (2, "new", "completed", 4, 9),
        (2, "stable", "abandoned", 2, 3),  # a partly answered survey counts for what it answered
        (2, "stable", "completed", None, 7),
        (1, "new", "completed", 3, None),
        (1, "growing", "declined", None, None),
        (40, "new", "completed", 1, 0),  # before the window
    ]
    for days_ago, stage, status, overall, nps in rows:
        survey(db, days_ago, stage, status, overall, nps)
    db.commit()

    data = get(client, "/overview", days=30)
    assert data["bucket"] == "day" and data["timezone"] == "Asia/Shanghai"
    # overall answered 5, 4, 2, 3: two of four are 4 or 5 -> 50 %
    assert (data["csat"], data["csat_answers"]) == (50.0, 4)
    # nps answered 10, 9, 3, 7: (2 promoters - 1 detractor) / 4 -> 25
    assert (data["nps"], data["nps_answers"]) == (25.0, 4)

    points = {p["period"]: p for p in data["satisfaction"]}
    assert len(points) in (30, 31) and list(points) == sorted(points)  # every day, empty ones too
    two = points[shop_day(2)]
    assert (two["csat"], two["csat_answers"]) == (66.7, 3)  # 5, 4, 2
    assert (two["nps"], two["promoters"], two["passives"], two["detractors"]) == (25.0, 2, 1, 1)
    one = points[shop_day(1)]
    assert (one["csat"], one["csat_answers"], one["nps"], one["nps_answers"]) == (0.0, 1, None, 0)
    empty = points[shop_day(10)]
    assert empty["csat"] is None and empty["nps"] is None and empty["csat_answers"] == 0

    stages = {s["stage"]: s for s in data["by_stage"]}
    assert [s["stage"] for s in data["by_stage"]] == ["prospect", "new", "growing", "stable", "at_risk", "churned"]
    assert stages["new"]["label"] == "新客户"
    assert (stages["new"]["csat"], stages["new"]["nps"]) == (66.7, 100.0)  # 5, 4, 3 / 10, 9
    assert (stages["stable"]["csat"], stages["stable"]["nps"]) == (0.0, -50.0)  # 2 / 3, 7
    assert (stages["growing"]["csat"], stages["growing"]["nps"], stages["growing"]["csat_answers"]) == (None, None, 0)

    # six surveys asked in the window, four completed
    assert data["responses"] == {"asked": 6, "completed": 4, "declined": 1, "abandoned": 1, "asking": 0,
                                 "rate": 66.7}

    # the survey of 40 days ago counts in a 90-day window, per week
    year = get(client, "/overview", days=90)
    assert year["bucket"] == "week" and year["csat_answers"] == 5 and year["nps_answers"] == 5
    weeks = [p["period"] for p in year["satisfaction"]]
    assert all(date.fromisoformat(w).weekday() == 0 for w in weeks)  # Mondays
    assert sum(p["csat_answers"] for p in year["satisfaction"]) == 5


def test_days_out_of_range_is_refused_in_chinese(client):
    resp = client.get(BASE + "/overview", params={"days": 0}, headers=TOKEN)
    assert resp.status_code == 422 and "days" in resp.json()["detail"] and "不符合要求" in resp.json()["detail"]


# --- lifecycle --------------------------------------------------------------------------

def test_funnel_transitions_churn_and_repurchase(client, db):
    a = customer(db, "growing")  # bought before the window and again in it: repurchased
    order(db, a, 100)
    order(db, a, 10)
    b = customer(db, "churned")  # bought before, moved to churned in the window
    order(db, b, 200)
    db.add(StageTransition(customer_id=b.id, from_stage="new", to_stage="churned", reason="180 天未购买",
                           trigger="nightly", at=utcnow() - timedelta(days=5)))
    c = customer(db, "at_risk")  # bought before; the order in the window was cancelled
    order(db, c, 100)
    order(db, c, 5, status="cancelled")
    d = customer(db, "new")  # first order in the window: not in the base
    order(db, d, 10)
    e = customer(db, "prospect")  # only a refunded order before: never bought
    order(db, e, 100, status="refunded")
    merged = customer(db, "new", merged_into_id=a.id)  # a merged-away record counts nowhere
    order(db, merged, 100)
    order(db, merged, 3)
    db.add(StageTransition(customer_id=a.id, from_stage="new", to_stage="growing", reason="第 6 单",
                           trigger="order", at=utcnow() - timedelta(days=50)))  # before the window
    db.add(StageTransition(customer_id=d.id, from_stage="prospect", to_stage="new", reason="第 1 单",
                           trigger="order", at=utcnow() - timedelta(days=10)))
    db.commit()

    data = get(client, "/overview", days=30)
    funnel = {s["stage"]: s["customers"] for s in data["funnel"]}
    assert funnel == {"prospect": 1, "new": 1, "growing": 1, "stable": 0, "at_risk": 1, "churned": 1}
    assert [s["label"] for s in data["funnel"]][:2] == ["潜在客户", "新客户"]
    assert sorted((t["from_stage"], t["to_stage"], t["count"]) for t in data["transitions"]) == \
        [("new", "churned", 1), ("prospect", "new", 1)]
    # base: a, b, c (paid orders before the window); a bought again, b churned
    assert data["repurchase"] == {"base": 3, "count": 1, "rate": 33.3}
    assert data["churn"] == {"base": 3, "count": 1, "rate": 33.3}

    # with a 120-day window only b bought before it; nobody repurchased, b churned
    wide = get(client, "/overview", days=120)
    assert wide["repurchase"] == {"base": 1, "count": 0, "rate": 0.0}
    assert wide["churn"] == {"base": 1, "count": 1, "rate": 100.0}


def test_personas_follow_ups_and_weekly_sentiment(client, db):
    vip = customer(db, "stable", "high_value")
    customer(db, "stable", "high_value")
    customer(db, "new", "needs_guidance")
    customer(db, "new")  # not classified yet
    customer(db, "new", "ordinary", merged_into_id=vip.id)
    conv = Conversation(id=uuid.uuid4().hex, customer_id=vip.id, channel="web")
    db.add(conv)
    db.flush()
    for author, sentiment, days_ago in [("customer", "positive", 1), ("customer", "positive", 2),
                                        ("customer", "negative", 1), ("customer", None, 1),
                                        ("bot", "neutral", 1), ("customer", "neutral", 60)]:
        db.add(Message(conversation_id=conv.id, direction="inbound" if author == "customer" else "outbound",
                       author=author, text="好的", sentiment=sentiment,
                       created_at=utcnow() - timedelta(days=days_ago)))
    db.add(FollowUpTask(customer_id=vip.id, reason="detractor", status="open"))
    db.add(FollowUpTask(customer_id=vip.id, reason="low_score", status="done"))
    db.commit()

    data = get(client, "/overview", days=30)
    assert [(p["persona"], p["label"], p["customers"]) for p in data["personas"]] == \
        [("high_value", "高价值型", 2), ("needs_guidance", "需引导型", 1), (None, "未分类", 1)]
    assert data["open_follow_ups"] == 1
    weeks = data["sentiment"]
    assert len(weeks) in (5, 6)
    assert sum(w["positive"] for w in weeks) == 2 and sum(w["negative"] for w in weeks) == 1
    assert sum(w["neutral"] for w in weeks) == 0  # the bot's and the 60-day-old message do not count
    assert all(w["total"] == w["positive"] + w["neutral"] + w["negative"] for w in weeks)

    crosstab = get(client, "/personas")
    rows = {r["persona"]: r for r in crosstab["rows"]}
    assert rows["high_value"]["stages"] == {"stable": 2} and rows["high_value"]["total"] == 2
    assert rows[None]["label"] == "未分类" and rows[None]["stages"] == {"new": 1}
    assert {s["stage"]: s["customers"] for s in crosstab["stages"]}["new"] == 2


def test_personas_report_and_tag_counts(client, db):
    db.add(AnalyticsReport(kind="personas", summary="旧的", data={}, created_at=utcnow() - timedelta(days=1)))
    db.add(AnalyticsReport(kind="personas", summary="303 位客户分为 5 群", data={
        "profile": [{"cluster": 0, "persona": "high_value", "label": "高价值型", "size": 30}],
        "tags": {"complaint_risk": {"低": 250, "高": 10, "中": 43},
                 "attributes": {"新客": 120, "高频": 40}, "channel": {"微信": 200, "网页": 103}}}))
    db.commit()
    data = get(client, "/personas")
    assert data["report"]["summary"] == "303 位客户分为 5 群"
    assert [(f["family"], f["label"]) for f in data["tags"]] == \
        [("channel", "偏好渠道"), ("attributes", "客户属性"), ("complaint_risk", "投诉风险")]
    assert data["tags"][2]["values"] == [{"value": "低", "customers": 250}, {"value": "中", "customers": 43},
                                         {"value": "高", "customers": 10}]


# --- what the jobs found ----------------------------------------------------------------

def test_rules_of_the_latest_run_best_first_with_a_limit(client, db):
    old, new = utcnow() - timedelta(days=1), utcnow()
    db.add(AssociationRule(kind="basket", rank=1, antecedents=["旧"], consequents=["旧"], support=0.5,
                           confidence=0.9, lift=3.0, computed_at=old))
    for rank, item in [(3, "茶具"), (1, "绿茶"), (2, "花茶")]:
        db.add(AssociationRule(kind="basket", rank=rank, antecedents=["红茶"], consequents=[item],
                               support=0.1 / rank, confidence=0.8 / rank, lift=2.0 / rank, computed_at=new))
    db.add(AssociationRule(kind="conversation", rank=1, antecedents=["stage=new", "handoff=yes"],
                           consequents=["nps=detractor"], support=0.05, confidence=0.6, lift=1.8, computed_at=new))
    db.add(AnalyticsReport(kind="rules", summary="发现 4 条规则", data={"transactions": 120}))
    db.commit()

    basket = get(client, "/rules", kind="basket")
    assert [r["consequents"] for r in basket["rules"]] == [["绿茶"], ["花茶"], ["茶具"]]
    assert basket["total"] == 3 and basket["rules"][0]["lift"] == 2.0
    assert basket["report"]["summary"] == "发现 4 条规则" and basket["report"]["data"] == {"transactions": 120}
    limited = get(client, "/rules", kind="basket", limit=2)
    assert [r["rank"] for r in limited["rules"]] == [1, 2] and limited["total"] == 3
    talk = get(client, "/rules", kind="conversation")
    assert talk["rules"][0]["antecedents"] == ["stage=new", "handoff=yes"]

    bad = client.get(BASE + "/rules", params={"kind": "nonsense"}, headers=TOKEN)
    assert bad.status_code == 422 and "kind" in bad.json()["detail"] and "不符合要求" in bad.json()["detail"]


def test_step_scores_of_the_latest_run_and_the_model_comparison(client, db):
    old, new = utcnow() - timedelta(days=1), utcnow()
    db.add(StepScore(step="answer", score=10, impact=1, weakest=True, conversations=5, model="old",
                     detail={}, computed_at=old))
    for step, score, weakest in [("resolution", 55.0, True), ("greeting", 90.0, False), ("answer", 72.5, False)]:
        db.add(StepScore(step=step, score=score, impact=3.2 if weakest else 0.5, weakest=weakest,
                         conversations=40, model="pso_bp", detail={"weight": 0.2}, computed_at=new))
    db.add(AnalyticsReport(kind="steps", summary="PSO-BP 最好", data={"models": [{"name": "pso_bp", "r2": 0.61}]}))
    db.commit()

    data = get(client, "/steps")
    assert [(s["step"], s["label"], s["score"]) for s in data["steps"]] == \
        [("greeting", "问候", 90.0), ("answer", "解答", 72.5), ("resolution", "问题解决", 55.0)]
    assert [s["step"] for s in data["steps"] if s["weakest"]] == ["resolution"]
    assert data["report"]["data"]["models"][0]["r2"] == 0.61


def test_jobs_with_their_last_run_and_the_recent_runs(client, db):
    start = utcnow() - timedelta(hours=30)
    for i in range(24):
        db.add(JobRun(job="campaign-offers", started_by="scheduler", status="ok", counts={"issued": i},
                      started_at=start + timedelta(minutes=i), finished_at=start + timedelta(minutes=i, seconds=2),
                      duration_seconds=2.0))
    db.add(JobRun(job="recompute-stages", started_by="cli", status="failed", started_at=start + timedelta(hours=1),
                  duration_seconds=0.5, counts={},
                  error="RuntimeError: 数据库忙\n\nTraceback (most recent call last):\n  ..."))
    db.commit()

    data = get(client, "/jobs")
    jobs = {j["name"]: j for j in data["jobs"]}
    assert {"recompute-stages", "campaign-offers"} <= set(jobs)
    assert jobs["recompute-stages"]["crontab"] == "30 2 * * *" and jobs["recompute-stages"]["description"]
    failed = jobs["recompute-stages"]["last_run"]
    assert failed["status"] == "failed" and failed["error"] == "RuntimeError: 数据库忙"
    assert jobs["campaign-offers"]["last_run"]["counts"] == {"issued": 23}
    assert len(data["runs"]) == 20 and data["runs"][0]["job"] == "recompute-stages"
    assert [r["id"] for r in data["runs"]] == sorted((r["id"] for r in data["runs"]), reverse=True)


# --- the loop: what it chose, and the admin's pin / veto ---------------------------------

def test_loop_choices_grouped_with_the_records_as_they_are_now(client, db):
    v1, v2 = variant(db, "您好，新朋友"), variant(db, "欢迎光临" + "很长" * 60, mode="vetoed")
    offer = Offer(code="NEW15", title="新人券", detail="满 99 减 15", kind="coupon", version=1, updated_by="seed")
    db.add(offer)
    db.flush()
    old, new = utcnow() - timedelta(days=1), utcnow()
    db.add(LoopChoice(kind="variant", group_key="utter_greet|new|*", stage="new", arm_id=v1.id, mode="auto",
                      observations=1, mean_reward=0.1, p_best=0.1, weight=0.1, explanation="旧", computed_at=old))
    for arm, mode, weight, text in [(v1.id, "auto", 1.0, "本组唯一可用的一项"), (v2.id, "vetoed", 0.0, "管理员否决，不再使用")]:
        db.add(LoopChoice(kind="variant", group_key="utter_greet|new|*", stage="new", arm_id=arm, mode=mode,
                          observations=12, mean_reward=0.7, p_best=0.9 if weight else 0.1, weight=weight,
                          explanation=text, computed_at=new))
    db.add(LoopChoice(kind="offer", group_key="offer|new", stage="new", arm_id=offer.id, mode="auto",
                      observations=3, mean_reward=0.5, p_best=1.0, weight=1.0, explanation="数据不足（3 次），继续探索",
                      computed_at=new))
    db.add(AnalyticsReport(kind="loop", summary="调整了 2 组", data={}))
    db.commit()

    data = get(client, "/loop")
    [group] = data["variants"]["groups"]
    assert (group["group_key"], group["stage_label"], group["template"], group["persona"]) == \
        ("utter_greet|new|*", "新客户", "utter_greet", None)
    first, second = group["arms"]
    assert (first["arm_id"], first["chosen"], first["weight"], first["text"]) == (v1.id, True, 1.0, "您好，新朋友")
    assert second["current_mode"] == "vetoed" and not second["chosen"] and second["text"].endswith("…")
    assert len(second["text"]) == 81
    [offers] = data["offers"]["groups"]
    assert offers["arms"][0]["title"] == "新人券" and offers["arms"][0]["current_mode"] == "auto"
    assert data["report"]["summary"] == "调整了 2 组"


def test_pinning_a_variant_unpins_the_other_of_its_group_and_reaches_the_bot(client, db):
    v1 = variant(db, "第一版问候", mode="pinned")
    v2 = variant(db, "第二版问候")
    v3 = variant(db, "第三版问候")
    vip = variant(db, "贵宾问候", persona="high_value", mode="pinned")  # another group: same template, persona
    other_stage = variant(db, "老朋友问候", stage="stable", mode="pinned")
    db.commit()
    store = client.app.state.variants
    store.load(db)
    assert [v.id for v in store.candidates("utter_greet", "new", {})] == [v1.id]

    resp = put_mode(client, "variants", v2.id, "pinned", note="活动期间统一口径")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["mode"] == "pinned" and body["changed"] and body["unpinned"] == [v1.id] and body["version"] == 2
    assert body["updated_by"] == "api-token"
    # the store was reloaded: the pinned variant is the only one a new customer is told
    assert [v.id for v in store.candidates("utter_greet", "new", {})] == [v2.id]
    assert store.choose("utter_greet", "new", {}).id == v2.id

    fresh(db)
    modes = {r.id: r.loop_mode for r in db.query(ReplyVariant)}
    assert modes == {v1.id: "auto", v2.id: "pinned", v3.id: "auto", vip.id: "pinned", other_stage.id: "pinned"}
    assert db.get(ReplyVariant, v1.id).version == 2
    revs = {r.entity_id: r for r in db.query(ContentRevision).filter_by(entity="variant")}
    assert revs[v2.id].action == "update" and revs[v2.id].version == 2
    assert revs[v2.id].note == "自动优化：固定（活动期间统一口径）" and revs[v2.id].data["loop_mode"] == "pinned"
    assert revs[v1.id].data["loop_mode"] == "auto" and f"#{v2.id}" in revs[v1.id].note
    assert v3.id not in revs

    # the same mode again writes nothing
    again = put_mode(client, "variants", v2.id, "pinned").json()
    assert not again["changed"] and again["version"] == 2

    # a veto takes a variant out of use; back to auto puts it back
    assert put_mode(client, "variants", v2.id, "auto").json()["version"] == 3
    assert put_mode(client, "variants", v3.id, "vetoed").status_code == 200
    assert sorted(v.id for v in store.candidates("utter_greet", "new", {})) == [v1.id, v2.id]
    assert put_mode(client, "variants", v3.id, "auto").status_code == 200
    assert sorted(v.id for v in store.candidates("utter_greet", "new", {})) == [v1.id, v2.id, v3.id]

    history = client.get("/api/admin/revisions", params={"entity": "variant", "entity_id": v3.id},
                         headers=TOKEN).json()
    assert [(r["version"], r["note"]) for r in history] == [(3, "自动优化：恢复自动"), (2, "自动优化：否决")]


def test_pinning_an_offer_is_versioned_and_per_offer(client, db):
    a = Offer(code="A10", title="券 A", detail="A", kind="coupon", loop_mode="pinned", version=1, updated_by="seed")
    b = Offer(code="B10", title="券 B", detail="B", kind="coupon", version=1, updated_by="seed")
    db.add_all([a, b])
    db.commit()
    resp = put_mode(client, "offers", b.id, "pinned")
    assert resp.status_code == 200, resp.text
    assert resp.json()["version"] == 2 and resp.json()["unpinned"] == []
    fresh(db)
    assert (db.get(Offer, a.id).loop_mode, db.get(Offer, b.id).loop_mode) == ("pinned", "pinned")
    [rev] = db.query(ContentRevision).filter_by(entity="offer", entity_id=b.id).all()
    assert rev.note == "自动优化：固定" and rev.data["loop_mode"] == "pinned"
    assert put_mode(client, "offers", a.id, "vetoed").json()["mode"] == "vetoed"


def test_mode_changes_are_refused_in_chinese(client, db):
    off = variant(db, "停用的问候", enabled=False)
    db.commit()
    missing = put_mode(client, "variants", 9999, "pinned")
    assert missing.status_code == 404 and missing.json()["detail"] == "回复变体 9999 不存在"
    assert put_mode(client, "offers", 9999, "auto").json()["detail"] == "优惠 9999 不存在"
    bad = put_mode(client, "variants", off.id, "always")
    # The modes are an enum of the request's schema now (OpenAPI), refused before the route.
    assert bad.status_code == 422 and "未知的模式 'always'；可选：auto、pinned、vetoed" in bad.json()["detail"]
    disabled = put_mode(client, "variants", off.id, "pinned")
    assert disabled.status_code == 409 and "已停用" in disabled.json()["detail"]
    assert put_mode(client, "variants", off.id, "vetoed").status_code == 200  # a veto of it is fine
    no_mode = client.put(f"{BASE}/loop/variants/{off.id}/mode", json={}, headers=TOKEN)
    assert no_mode.status_code == 422 and "mode" in no_mode.json()["detail"]


# --- access and an empty database --------------------------------------------------------

GETS = ["/overview", "/rules", "/steps", "/loop", "/jobs", "/personas"]


def test_admins_only(client, db):
    create_staff(db, "boss", "boss-password-1", "admin", "店长")
    create_staff(db, "agent1", "agent-password-1", "agent", "客服小李")
    v = variant(db, "您好")
    db.commit()
    for path in GETS:
        assert client.get(BASE + path).status_code == 401
    assert client.put(f"{BASE}/loop/variants/{v.id}/mode", json={"mode": "pinned"}, headers=FETCH).status_code == 401
    assert client.post("/api/auth/login", json={"username": "agent1", "password": "agent-password-1"}).status_code == 200
    for path in GETS:
        resp = client.get(BASE + path)
        assert resp.status_code == 403 and resp.json()["detail"] == "此操作需要管理员（admin）权限"
    assert client.put(f"{BASE}/loop/variants/{v.id}/mode", json={"mode": "pinned"}, headers=FETCH).status_code == 403
    client.post("/api/auth/logout", headers=FETCH)
    client.post("/api/auth/login", json={"username": "boss", "password": "boss-password-1"})
    for path in GETS:
        assert client.get(BASE + path).status_code == 200
    pinned = client.put(f"{BASE}/loop/variants/{v.id}/mode", json={"mode": "pinned"}, headers=FETCH)
    assert pinned.status_code == 200 and pinned.json()["updated_by"] == "boss"
    # a cookie write without the custom header is refused, as on every staff route
    assert client.put(f"{BASE}/loop/variants/{v.id}/mode", json={"mode": "auto"}).status_code == 403


def test_an_empty_database_gives_empty_answers(client):
    data = get(client, "/overview", days=365)
    assert data["csat"] is None and data["nps"] is None and data["csat_answers"] == 0
    assert all(p["csat"] is None for p in data["satisfaction"]) and len(data["satisfaction"]) in (53, 54)
    assert all(s["csat"] is None and s["nps_answers"] == 0 for s in data["by_stage"])
    assert data["responses"]["rate"] is None and data["responses"]["asked"] == 0
    assert all(s["customers"] == 0 for s in data["funnel"]) and data["transitions"] == []
    assert data["churn"] == {"base": 0, "count": 0, "rate": None} == data["repurchase"]
    assert data["personas"] == [] and data["open_follow_ups"] == 0
    assert all(w["total"] == 0 for w in data["sentiment"])
    assert get(client, "/rules") == {"kind": "basket", "computed_at": None, "total": 0, "rules": [], "report": None}
    assert get(client, "/steps") == {"computed_at": None, "steps": [], "report": None}
    assert get(client, "/loop") == {"variants": {"computed_at": None, "groups": []},
                                    "offers": {"computed_at": None, "groups": []}, "report": None}
    jobs = get(client, "/jobs")
    assert jobs["runs"] == [] and all(j["last_run"] is None for j in jobs["jobs"])
    personas = get(client, "/personas")
    assert personas["rows"] == [] and personas["report"] is None and personas["tags"] == []
