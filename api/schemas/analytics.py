"""What the admin console's analytics and loop pages read, and the pin / veto they send."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.schemas.types import InputModel, LoopMode, StaffText, UtcDatetime

# --- overview -------------------------------------------------------------------------


class SatisfactionPoint(BaseModel):
    """CSAT and NPS of the surveys started in one day or week (shop time)."""

    period: str  # the day, or the Monday of the week: YYYY-MM-DD
    csat: float | None  # % of answered `overall` that are 4 or 5; None: no answer
    csat_answers: int
    nps: float | None  # % promoters (9-10) - % detractors (0-6); None: no answer
    nps_answers: int
    promoters: int
    passives: int
    detractors: int


class StageSatisfaction(BaseModel):
    stage: str
    label: str
    csat: float | None
    csat_answers: int
    nps: float | None
    nps_answers: int


class SurveyResponses(BaseModel):
    asked: int  # surveys started in the window, whatever became of them
    completed: int
    declined: int
    abandoned: int
    asking: int  # still waiting for an answer
    rate: float | None  # completed / asked, %


class StageCount(BaseModel):
    stage: str
    label: str
    customers: int


class TransitionCount(BaseModel):
    from_stage: str
    from_label: str
    to_stage: str
    to_label: str
    count: int


class Rate(BaseModel):
    base: int  # the denominator: customers with a paid order before the window
    count: int  # the numerator
    rate: float | None  # count / base, %; None when base is 0


class PersonaCount(BaseModel):
    persona: str | None  # None: not classified yet
    label: str
    customers: int


class SentimentPoint(BaseModel):
    period: str  # Monday of the week, YYYY-MM-DD
    positive: int
    neutral: int
    negative: int
    total: int


class Overview(BaseModel):
    days: int
    since: UtcDatetime
    until: UtcDatetime
    bucket: str  # day | week
    timezone: str
    csat: float | None
    csat_answers: int
    nps: float | None
    nps_answers: int
    satisfaction: list[SatisfactionPoint]
    by_stage: list[StageSatisfaction]
    responses: SurveyResponses
    funnel: list[StageCount]
    transitions: list[TransitionCount]
    churn: Rate
    repurchase: Rate
    personas: list[PersonaCount]
    open_follow_ups: int
    sentiment: list[SentimentPoint]


# --- job results ----------------------------------------------------------------------


class ReportOut(BaseModel):
    kind: str
    summary: str
    data: dict[str, Any]
    created_at: UtcDatetime


class RuleOut(BaseModel):
    rank: int
    antecedents: list[str]
    consequents: list[str]
    support: float
    confidence: float
    lift: float


class RulesOut(BaseModel):
    kind: str
    computed_at: UtcDatetime | None  # None: the job has not run yet
    total: int  # rules of the latest run (``rules`` holds the first ``limit``)
    rules: list[RuleOut]
    report: ReportOut | None


class StepScoreOut(BaseModel):
    step: str
    label: str
    score: float
    impact: float
    weakest: bool
    conversations: int
    model: str
    detail: dict[str, Any]


class StepsOut(BaseModel):
    computed_at: UtcDatetime | None
    steps: list[StepScoreOut]
    report: ReportOut | None


class LoopArm(BaseModel):
    """One alternative of a group as the loop saw it, and the record as it is now."""

    arm_id: int
    exists: bool  # False: the variant or offer was deleted since
    mode: str  # what the loop ran with
    current_mode: str | None  # loop_mode now (an admin may have changed it since)
    observations: int
    mean_reward: float
    p_best: float
    weight: float
    chosen: bool  # the largest weight of its group
    explanation: str
    # variants
    template: str | None = None
    persona: str | None = None
    text: str | None = None  # the first characters
    # offers
    code: str | None = None
    title: str | None = None
    enabled: bool | None = None
    version: int | None = None


class LoopGroup(BaseModel):
    group_key: str
    stage: str
    stage_label: str
    template: str | None = None  # variant groups
    persona: str | None = None
    arms: list[LoopArm]


class LoopKind(BaseModel):
    computed_at: UtcDatetime | None
    groups: list[LoopGroup]


class LoopOut(BaseModel):
    variants: LoopKind
    offers: LoopKind
    report: ReportOut | None


class LoopModeIn(InputModel):
    mode: LoopMode
    note: StaffText = Field(default="", max_length=200)


class LoopModeOut(BaseModel):
    entity: str  # variant | offer
    id: int
    mode: str
    version: int
    updated_by: str
    updated_at: UtcDatetime
    changed: bool  # False: it had this mode already, nothing was written
    unpinned: list[int]  # variants of the same group set back to auto by this pin


class JobRunOut(BaseModel):
    id: int
    job: str
    started_by: str
    status: str
    started_at: UtcDatetime
    finished_at: UtcDatetime | None
    duration_seconds: float | None
    counts: dict[str, Any]
    error: str | None  # the first line only


class JobOut(BaseModel):
    name: str
    description: str
    crontab: str
    last_run: JobRunOut | None


class JobsOut(BaseModel):
    jobs: list[JobOut]
    runs: list[JobRunOut]


class PersonaRow(BaseModel):
    persona: str | None
    label: str
    stages: dict[str, int]  # stage -> customers
    total: int


class TagValueCount(BaseModel):
    value: str
    customers: int


class TagFamily(BaseModel):
    family: str
    label: str
    values: list[TagValueCount]  # the most common, at most 12


class PersonasOut(BaseModel):
    stages: list[StageCount]  # columns of the crosstab, with their totals
    rows: list[PersonaRow]
    report: ReportOut | None
    tags: list[TagFamily]
