"""Admin console API for the analytics pages: satisfaction, lifecycle, rules, step
scores, personas, the jobs — and the admin's pin / veto of the analytics loop.

Everything here is read with aggregate SQL (GROUP BY in the database, never a Python
loop over customers, surveys or messages), so the pages stay fast with 100k customers
and 300k surveys. The definitions of the figures are in :func:`overview` and in
docs/admin-console.md; keep the two in step.

The module is long because it serves every analytics page; each page is a section.

Time: the database keeps naive UTC. Days and weeks are the shop's
(``HX_SHOP_TIMEZONE``); a week starts on Monday and is named by that Monday.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from api.core.config import get_settings
from api.db.base import utcnow
from api.schemas.types import DbId
from api.schemas.errors import errors
from api.deps import AdminDep, DbDep, require_admin
from api.models import (
    AnalyticsReport,
    AssociationRule,
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
from api.models.analytics import STEP_LABELS, STEPS
from api.models.customer import PERSONA_LABELS, PERSONAS, STAGE_LABELS, STAGES
from api.schemas.analytics import (
    JobOut,
    JobRunOut,
    JobsOut,
    LoopArm,
    LoopGroup,
    LoopKind,
    LoopModeIn,
    LoopModeOut,
    LoopOut,
    Overview,
    PersonaCount,
    PersonaRow,
    PersonasOut,
    Rate,
    ReportOut,
    RuleOut,
    RulesOut,
    SatisfactionPoint,
    SentimentPoint,
    StageCount,
    StageSatisfaction,
    StepScoreOut,
    StepsOut,
    SurveyResponses,
    TagFamily,
    TagValueCount,
    TransitionCount,
)
from api.services import loop_policy, revisions
from api.domain.lifecycle import NOT_PURCHASES

router = APIRouter(prefix="/api/admin/analytics", tags=["analytics"], dependencies=[Depends(require_admin)])

UNCLASSIFIED = "未分类"
TAG_FAMILY_LABELS = {"channel": "偏好渠道", "rating": "服务评价", "attributes": "客户属性",
                     "contact_change": "咨询量变化", "complaint_risk": "投诉风险", "cluster": "客户分群"}
# Up to this many days the trend is per day, beyond it per week.
DAILY_UP_TO_DAYS = 31
VARIANT_TEXT_CHARS = 80
MAX_TAG_VALUES = 12


def _pct(part: int | None, whole: int | None) -> float | None:
    return round(100.0 * (part or 0) / whole, 1) if whole else None


def _nps(promoters: int, detractors: int, answers: int) -> float | None:
    return round(100.0 * ((promoters or 0) - (detractors or 0)) / answers, 1) if answers else None


def _stage_label(stage: str | None) -> str:
    return STAGE_LABELS.get(stage or "", stage or "未知阶段")


def _persona_label(persona: str | None) -> str:
    return PERSONA_LABELS.get(persona or "", persona) if persona else UNCLASSIFIED


def _stage_order(stage: str | None) -> tuple[int, str]:
    return (STAGES.index(stage), "") if stage in STAGES else (len(STAGES), stage or "")


def _persona_order(persona: str | None) -> tuple[int, str]:
    return (PERSONAS.index(persona), "") if persona in PERSONAS else (len(PERSONAS) + (persona is None), persona or "")


# --- time buckets -----------------------------------------------------------------------

def _zone() -> str:
    name = get_settings().shop_timezone
    ZoneInfo(name)  # an unknown zone fails here, not inside SQL
    return name


def _bucket(db: Session, column, unit: str, zone: str):
    """SQL for the shop-time day (``unit`` 'day') or Monday of the week ('week') of a
    naive-UTC timestamp column, as text YYYY-MM-DD."""
    if db.get_bind().dialect.name == "sqlite":
        # SQLite has no time zones: the zone's offset now (exact for zones without
        # daylight saving time, such as Asia/Shanghai).
        offset = datetime.now(ZoneInfo(zone)).utcoffset() or timedelta(0)
        shift = f"{int(offset.total_seconds() // 60):+d} minutes"
        if unit == "day":
            return func.date(column, shift)
        return func.date(column, shift, "weekday 0", "-6 days")  # the next Sunday, back to Monday
    local = func.timezone(zone, func.timezone("UTC", column))
    return func.to_char(func.date_trunc(unit, local), "YYYY-MM-DD")


def _local_date(moment: datetime, zone: str) -> date:
    return moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone)).date()


def _periods(since: datetime, until: datetime, unit: str, zone: str) -> list[str]:
    """Every bucket from ``since`` to ``until``, so a chart has a point (maybe empty) for each."""
    first, last = _local_date(since, zone), _local_date(until, zone)
    if unit == "week":
        first -= timedelta(days=first.weekday())
        last -= timedelta(days=last.weekday())
    step = timedelta(days=7 if unit == "week" else 1)
    out = []
    while first <= last:
        out.append(first.isoformat())
        first += step
    return out


def _bucketed(db: Session, column, unit: str, zone: str, *columns, where) -> Any:
    """A subquery of ``columns`` plus the bucket ``p`` of ``column``; grouping on a
    subquery's column keeps PostgreSQL from seeing the bucket expression twice with
    different bind parameters."""
    return select(_bucket(db, column, unit, zone).label("p"), *columns).where(*where).subquery()


# --- overview ---------------------------------------------------------------------------

@router.get("/overview", response_model=Overview)
def overview(db: DbDep, days: Annotated[int, Query(ge=1, le=730)] = 90) -> Overview:
    """The figures of the 数据分析 page for the last ``days`` days (the *window*).

    - **CSAT**: of the surveys started in the window with an answer to the overall
      question (1–5, whatever the survey's status), the share that answered 4 or 5, in %.
    - **NPS**: of the surveys started in the window with an answer to the
      recommendation question (0–10), % promoters (9–10) minus % detractors (0–6):
      −100 to 100.
    - Both per day (windows up to 31 days) or per week (Monday to Sunday, shop time),
      and per stage (the customer's stage when the survey was asked). ``None`` where
      there is no answer.
    - **Response rate**: completed surveys / surveys started in the window, in %.
    - **Funnel**: customers (not merged into another record) per current stage.
    - **Transitions**: stage changes recorded in the window, counted per from → to.
    - **Churn rate**: of the customers who had a paid order before the window, the
      share whose stage changed to churned during the window, in %.
    - **Repurchase rate**: of the customers who had a paid order before the window,
      the share who placed another paid order during it, in %.
      A paid order is one not pending payment, cancelled or refunded (as for stages).
    - **Personas**: customers (not merged) per persona; ``None`` = not classified yet.
    - **Open follow-ups**: follow-up tasks still open, whenever created.
    - **Sentiment**: customer messages written in the window that the sentiment job has
      classified, per week and class.
    """
    zone = _zone()
    until = utcnow()
    since = until - timedelta(days=days)
    unit = "day" if days <= DAILY_UP_TO_DAYS else "week"
    # One pass over the window's surveys, grouped by bucket, stage and status; the
    # totals, the stages and the trend are sums of these few groups.
    sub = _bucketed(db, Survey.started_at, unit, zone, Survey.stage, Survey.status, Survey.overall, Survey.nps,
                    where=(Survey.started_at >= since, Survey.started_at <= until))
    groups = db.execute(select(
        sub.c.p, sub.c.stage, sub.c.status, func.count(),
        func.count(sub.c.overall), func.coalesce(func.sum(case((sub.c.overall >= 4, 1), else_=0)), 0),
        func.count(sub.c.nps), func.coalesce(func.sum(case((sub.c.nps >= 9, 1), else_=0)), 0),
        func.coalesce(func.sum(case((sub.c.nps <= 6, 1), else_=0)), 0),
    ).group_by(sub.c.p, sub.c.stage, sub.c.status)).all()
    zero = (0, 0, 0, 0, 0)  # overall answers, of them 4-5; nps answers, promoters, detractors
    by_period: dict[str, list[int]] = defaultdict(lambda: list(zero))
    stage_sums: dict[str, list[int]] = defaultdict(lambda: list(zero))
    totals = list(zero)
    statuses: dict[str, int] = defaultdict(int)
    for p, stage, state, n, *sums in groups:
        statuses[state] += n
        for acc in (by_period[str(p)], stage_sums[stage], totals):
            for i, value in enumerate(sums):
                acc[i] += int(value or 0)

    satisfaction = []
    for period in _periods(since, until, unit, zone):
        cn, sat, nn, pro, det = by_period.get(period, zero)
        satisfaction.append(SatisfactionPoint(period=period, csat=_pct(sat, cn), csat_answers=cn,
                                              nps=_nps(pro, det, nn), nps_answers=nn, promoters=pro,
                                              passives=nn - pro - det, detractors=det))
    by_stage = []
    for stage in sorted(set(STAGES) | set(stage_sums), key=_stage_order):
        cn, sat, nn, pro, det = stage_sums.get(stage, zero)
        by_stage.append(StageSatisfaction(stage=stage, label=_stage_label(stage), csat=_pct(sat, cn),
                                          csat_answers=cn, nps=_nps(pro, det, nn), nps_answers=nn))
    asked = sum(statuses.values())
    responses = SurveyResponses(asked=asked, completed=statuses.get("completed", 0),
                                declined=statuses.get("declined", 0), abandoned=statuses.get("abandoned", 0),
                                asking=statuses.get("asking", 0), rate=_pct(statuses.get("completed", 0), asked))
    csat_n, satisfied, nps_n, promoters, detractors = totals

    # lifecycle
    current = Customer.merged_into_id.is_(None)
    per_stage = dict(db.execute(select(Customer.stage, func.count()).where(current).group_by(Customer.stage)).all())
    funnel = [StageCount(stage=s, label=_stage_label(s), customers=per_stage.get(s, 0))
              for s in sorted(set(STAGES) | set(per_stage), key=_stage_order)]
    transitions = [TransitionCount(from_stage=a, from_label=_stage_label(a), to_stage=b, to_label=_stage_label(b),
                                   count=n)
                   for a, b, n in db.execute(
                       select(StageTransition.from_stage, StageTransition.to_stage, func.count().label("n"))
                       .where(StageTransition.at >= since, StageTransition.at <= until)
                       .group_by(StageTransition.from_stage, StageTransition.to_stage)
                       .order_by(func.count().desc(), StageTransition.from_stage, StageTransition.to_stage))]

    # churn and repurchase: EXISTS on the orders' (customer, time) index per customer
    paid = Order.status.notin_(NOT_PURCHASES)

    def bought(who, *when):
        return select(Order.id).where(Order.customer_id == who, paid, *when).exists()

    base, repurchased = db.execute(
        select(func.count(),
               func.coalesce(func.sum(case((bought(Customer.id, Order.placed_at >= since,
                                                   Order.placed_at <= until), 1), else_=0)), 0))
        .select_from(Customer).where(current, bought(Customer.id, Order.placed_at < since))).one()
    # from the (few) moves to churned in the window
    churned = db.scalar(
        select(func.count(func.distinct(StageTransition.customer_id)))
        .join(Customer, Customer.id == StageTransition.customer_id)
        .where(StageTransition.to_stage == "churned", StageTransition.at >= since, StageTransition.at <= until,
               current, bought(StageTransition.customer_id, Order.placed_at < since))) or 0

    personas = [PersonaCount(persona=p, label=_persona_label(p), customers=n)
                for p, n in sorted(db.execute(select(Customer.persona, func.count()).where(current)
                                              .group_by(Customer.persona)).all(),
                                   key=lambda r: _persona_order(r[0]))]
    open_follow_ups = db.scalar(select(func.count()).select_from(FollowUpTask)
                                .where(FollowUpTask.status == "open")) or 0

    # sentiment of customer messages, per week
    msgs = _bucketed(db, Message.created_at, "week", zone, Message.sentiment,
                     where=(Message.author == "customer", Message.sentiment.is_not(None),
                            Message.created_at >= since, Message.created_at <= until))
    weekly: dict[str, dict[str, int]] = defaultdict(dict)
    for p, label, n in db.execute(select(msgs.c.p, msgs.c.sentiment, func.count())
                                  .group_by(msgs.c.p, msgs.c.sentiment)):
        weekly[str(p)][label] = n
    sentiment = []
    for period in _periods(since, until, "week", zone):
        counts = weekly.get(period, {})
        sentiment.append(SentimentPoint(period=period, positive=counts.get("positive", 0),
                                        neutral=counts.get("neutral", 0), negative=counts.get("negative", 0),
                                        total=sum(counts.values())))

    return Overview(
        days=days, since=since, until=until, bucket=unit, timezone=zone,
        csat=_pct(satisfied, csat_n), csat_answers=csat_n, nps=_nps(promoters, detractors, nps_n), nps_answers=nps_n,
        satisfaction=satisfaction, by_stage=by_stage, responses=responses, funnel=funnel,
        transitions=transitions,
        churn=Rate(base=base, count=churned, rate=_pct(churned, base)),
        repurchase=Rate(base=base, count=repurchased, rate=_pct(repurchased, base)),
        personas=personas, open_follow_ups=open_follow_ups, sentiment=sentiment)


# --- what the jobs found --------------------------------------------------------------

def _report(db: Session, kind: str) -> ReportOut | None:
    row = db.scalar(select(AnalyticsReport).where(AnalyticsReport.kind == kind)
                    .order_by(AnalyticsReport.created_at.desc(), AnalyticsReport.id.desc()).limit(1))
    if row is None:
        return None
    return ReportOut(kind=row.kind, summary=row.summary or "", data=row.data or {}, created_at=row.created_at)


@router.get("/rules", response_model=RulesOut)
def rules(db: DbDep, kind: Annotated[str, Query(pattern="^(basket|conversation)$")] = "basket",
          limit: Annotated[int, Query(ge=1, le=200)] = 20) -> RulesOut:
    """The latest run's rules of one kind, best (rank 1) first, and the job's report.

    ``basket``: products bought together ("买了 X 的客户也买 Y"); ``conversation``:
    facts of a conversation ("stage=new", …) → NPS class or repurchase."""
    latest = db.scalar(select(func.max(AssociationRule.computed_at)).where(AssociationRule.kind == kind))
    found: list[RuleOut] = []
    total = 0
    if latest is not None:
        this_run = (AssociationRule.kind == kind, AssociationRule.computed_at == latest)
        total = db.scalar(select(func.count()).select_from(AssociationRule).where(*this_run)) or 0
        found = [RuleOut(rank=r.rank, antecedents=list(r.antecedents or []), consequents=list(r.consequents or []),
                         support=r.support, confidence=r.confidence, lift=r.lift)
                 for r in db.scalars(select(AssociationRule).where(*this_run)
                                     .order_by(AssociationRule.rank, AssociationRule.id).limit(limit))]
    return RulesOut(kind=kind, computed_at=latest, total=total, rules=found, report=_report(db, "rules"))


@router.get("/steps", response_model=StepsOut)
def steps(db: DbDep) -> StepsOut:
    """The latest step scores (0–100, higher is better; the weakest step flagged) and
    the scoring job's model comparison."""
    latest = db.scalar(select(func.max(StepScore.computed_at)))
    rows = [] if latest is None else list(db.scalars(select(StepScore).where(StepScore.computed_at == latest)))
    rows.sort(key=lambda r: (STEPS.index(r.step) if r.step in STEPS else len(STEPS), r.step))
    return StepsOut(computed_at=latest, report=_report(db, "steps"),
                    steps=[StepScoreOut(step=r.step, label=STEP_LABELS.get(r.step, r.step), score=r.score,
                                        impact=r.impact, weakest=r.weakest, conversations=r.conversations,
                                        model=r.model, detail=r.detail or {}) for r in rows])


def _loop_kind(db: Session, kind: str) -> LoopKind:
    latest = db.scalar(select(func.max(LoopChoice.computed_at)).where(LoopChoice.kind == kind))
    if latest is None:
        return LoopKind(computed_at=None, groups=[])
    choices = list(db.scalars(select(LoopChoice).where(LoopChoice.kind == kind, LoopChoice.computed_at == latest)
                              .order_by(LoopChoice.id)))
    ids = sorted({c.arm_id for c in choices})
    model = ReplyVariant if kind == "variant" else Offer
    records = {r.id: r for r in db.scalars(select(model).where(model.id.in_(ids)))} if ids else {}
    grouped: dict[str, list[LoopChoice]] = defaultdict(list)
    for c in choices:
        grouped[c.group_key].append(c)
    groups = []
    for key, arms in grouped.items():
        best = max(arms, key=lambda c: (c.weight, -c.arm_id))
        out = []
        for c in sorted(arms, key=lambda c: (-c.weight, c.arm_id)):
            r = records.get(c.arm_id)
            arm = LoopArm(arm_id=c.arm_id, exists=r is not None, mode=c.mode,
                          current_mode=r.loop_mode if r is not None else None, observations=c.observations,
                          mean_reward=c.mean_reward, p_best=c.p_best, weight=c.weight,
                          chosen=c is best and c.weight > 0, explanation=c.explanation,
                          enabled=r.enabled if r is not None else None,
                          version=r.version if r is not None else None)
            if r is not None and kind == "variant":
                arm.template, arm.persona = r.template, r.persona
                arm.text = r.text if len(r.text) <= VARIANT_TEXT_CHARS else r.text[:VARIANT_TEXT_CHARS] + "…"
            elif r is not None:
                arm.code, arm.title = r.code, r.title
            out.append(arm)
        template = persona = None
        if kind == "variant":
            known = next((a for a in out if a.exists), None)
            parsed = loop_policy.parse_variant_group(key)
            template = known.template if known else parsed.template
            persona = known.persona if known else parsed.persona
        stage = arms[0].stage
        groups.append(LoopGroup(group_key=key, stage=stage, stage_label=_stage_label(stage), template=template,
                                persona=persona, arms=out))
    groups.sort(key=lambda g: (_stage_order(g.stage), g.template or "", g.persona or "", g.group_key))
    return LoopKind(computed_at=latest, groups=groups)


@router.get("/loop", response_model=LoopOut)
def loop(db: DbDep) -> LoopOut:
    """What the loop chose in its latest run, per group, with each arm's weight and the
    reason in Chinese; ``current_mode`` is the record's pin / veto now."""
    return LoopOut(variants=_loop_kind(db, "variant"), offers=_loop_kind(db, "offer"), report=_report(db, "loop"))


# --- pin / veto -------------------------------------------------------------------------

def _check_mode(mode: str) -> str:
    if mode not in loop_policy.MODE_LABELS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"未知的模式 {mode!r}；可选：auto（自动）、pinned（固定）、vetoed（否决）")
    return mode


def _note(mode: str, note: str) -> str:
    note = note.strip()
    return f"自动优化：{loop_policy.MODE_LABELS[mode]}" + (f"（{note}）" if note else "")


@router.put("/loop/variants/{variant_id}/mode", response_model=LoopModeOut, responses=errors(409))
def set_variant_mode(variant_id: DbId, body: LoopModeIn, request: Request, db: DbDep, admin: AdminDep) -> LoopModeOut:
    """Pin (the only one said in its group), veto (never said) or hand back to the loop.

    A group is the variants of one template, stage and persona: pinning one sets any
    other pinned variant of the group back to auto. Every change is a revision."""
    row = db.get(ReplyVariant, variant_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"回复变体 {variant_id} 不存在")
    mode = _check_mode(body.mode)
    if loop_policy.is_pinned(mode) and not loop_policy.may_pin(row.enabled):
        raise HTTPException(status.HTTP_409_CONFLICT, "已停用的变体不能固定：请先在“回复话术”中启用它")
    if row.loop_mode == mode:
        return LoopModeOut(entity="variant", id=row.id, mode=mode, version=row.version, updated_by=row.updated_by,
                           updated_at=row.updated_at, changed=False, unpinned=[])
    unpinned: list[int] = []
    if loop_policy.is_pinned(mode):
        for other in loop_policy.unpinned_by(db, row):
            other.loop_mode = loop_policy.AUTO
            revisions.record(db, "variant", other, "update", admin.username,
                             f"自动优化：因固定变体 #{row.id}，恢复自动")
            unpinned.append(other.id)
    row.loop_mode = mode
    revisions.record(db, "variant", row, "update", admin.username, _note(mode, body.note))
    db.commit()
    request.app.state.variants.load(db)  # the NLG endpoint follows at once
    return LoopModeOut(entity="variant", id=row.id, mode=mode, version=row.version, updated_by=row.updated_by,
                       updated_at=row.updated_at, changed=True, unpinned=unpinned)


@router.put("/loop/offers/{offer_id}/mode", response_model=LoopModeOut, responses=errors(409))
def set_offer_mode(offer_id: DbId, body: LoopModeIn, db: DbDep, admin: AdminDep) -> LoopModeOut:
    """Pin (wins among the offers of equal priority for its stages), veto (never chosen
    by the loop) or hand back to the loop. Pins are per offer. Every change is a revision."""
    offer = db.get(Offer, offer_id)
    if offer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"优惠 {offer_id} 不存在")
    mode = _check_mode(body.mode)
    if loop_policy.is_pinned(mode) and not loop_policy.may_pin(offer.enabled):
        raise HTTPException(status.HTTP_409_CONFLICT, "已停用的优惠不能固定：请先在“优惠活动”中启用它")
    changed = offer.loop_mode != mode
    if changed:
        offer.loop_mode = mode
        revisions.record(db, "offer", offer, "update", admin.username, _note(mode, body.note))
        db.commit()
    return LoopModeOut(entity="offer", id=offer.id, mode=mode, version=offer.version, updated_by=offer.updated_by,
                       updated_at=offer.updated_at, changed=changed, unpinned=[])


# --- jobs -------------------------------------------------------------------------------

def _run_out(run: JobRun) -> JobRunOut:
    error = run.error.strip().splitlines()[0] if run.error and run.error.strip() else None
    return JobRunOut(id=run.id, job=run.job, started_by=run.started_by, status=run.status,
                     started_at=run.started_at, finished_at=run.finished_at,
                     duration_seconds=run.duration_seconds, counts=run.counts or {}, error=error)


@router.get("/jobs", response_model=JobsOut)
def jobs(db: DbDep) -> JobsOut:
    """Every registered job with its schedule and last run, and the last 20 runs."""
    from api.jobs.registry import JOBS  # the registry; imported when asked, not at start-up

    settings = get_settings()
    last_ids = select(func.max(JobRun.id)).group_by(JobRun.job)
    last = {r.job: r for r in db.scalars(select(JobRun).where(JobRun.id.in_(last_ids)))}
    listed = [JobOut(name=name, description=job.description, crontab=job.crontab(settings),
                     last_run=_run_out(last[name]) if name in last else None)
              for name, job in sorted(JOBS.items())]
    recent = [_run_out(r) for r in db.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(20))]
    return JobsOut(jobs=listed, runs=recent)


# --- personas ---------------------------------------------------------------------------

def _tag_families(report: ReportOut | None) -> list[TagFamily]:
    """How many customers carry each tag, as the persona job counted them when it wrote
    the tags (its report's ``tags``: {family: {value: customers}}); nothing to scan here."""
    tags = (report.data or {}).get("tags") if report else None
    if not isinstance(tags, dict):
        return []
    order = list(TAG_FAMILY_LABELS)
    out = []
    for family in sorted(tags, key=lambda f: (order.index(f) if f in order else len(order), f)):
        counts = tags[family] if isinstance(tags[family], dict) else {}
        values = sorted(((str(v), int(n)) for v, n in counts.items() if isinstance(n, int | float)),
                        key=lambda vn: (-vn[1], vn[0]))[:MAX_TAG_VALUES]
        out.append(TagFamily(family=family, label=TAG_FAMILY_LABELS.get(family, family),
                             values=[TagValueCount(value=v, customers=n) for v, n in values]))
    return out


@router.get("/personas", response_model=PersonasOut)
def personas(db: DbDep) -> PersonasOut:
    """Customers (not merged) per persona × current stage, the persona job's cluster
    profiles (latest 'personas' report) and how many customers carry each tag (from
    that report)."""
    cells: dict[str | None, dict[str, int]] = defaultdict(dict)
    for persona, stage, n in db.execute(select(Customer.persona, Customer.stage, func.count())
                                        .where(Customer.merged_into_id.is_(None))
                                        .group_by(Customer.persona, Customer.stage)):
        cells[persona][stage] = n
    stage_totals: dict[str, int] = defaultdict(int)
    for by_stage in cells.values():
        for stage, n in by_stage.items():
            stage_totals[stage] += n
    stages = [StageCount(stage=s, label=_stage_label(s), customers=stage_totals.get(s, 0))
              for s in sorted(set(STAGES) | set(stage_totals), key=_stage_order)]
    rows = [PersonaRow(persona=p, label=_persona_label(p), stages=dict(by_stage), total=sum(by_stage.values()))
            for p, by_stage in sorted(cells.items(), key=lambda kv: _persona_order(kv[0]))]
    report = _report(db, "personas")
    return PersonasOut(stages=stages, rows=rows, report=report, tags=_tag_families(report))
