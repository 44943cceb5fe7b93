"""Stage variants of the bot's responses: validation, choice, editing.

Each ``utter_*`` has its default text in Rasa's domain. Admins add variants for a
lifecycle stage (optionally one persona); the NLG endpoint says the variant for the
customer's stage instead of the default. A variant is used only when every variable
in it has a value for this customer — a greeting written with ``{coupon_code}`` falls
back to the default for a customer who holds no coupon, instead of showing braces.
"""
from __future__ import annotations

import random
import re
import string
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ReplyVariant
from api.models.customer import PERSONAS, STAGES
from api.services import loop_policy, revisions
from api.services.responses import ResponseCatalog

MAX_TEXT_CHARS = 1000
# Filled from the customer's state for every response (see turns.customer_context).
CUSTOMER_VARIABLES = {
    "name": "顾客称呼（会员姓名）",
    "points": "当前积分",
    "stage_name": "生命周期阶段的中文名",
    "coupon_code": "顾客当前持有的优惠券券码",
    "coupon_title": "该优惠券的名称",
}
# Filled by the action that utters the response.
ACTION_VARIABLES = {
    "utter_offer": {"offer_title": "优惠名称", "offer_detail": "优惠说明", "coupon_code": "券码",
                    "expires_on": "有效期至"},
    "utter_offer_again": {"offer_title": "优惠名称", "coupon_code": "券码", "expires_on": "有效期至"},
    "utter_offer_benefit": {"offer_title": "优惠名称", "offer_detail": "优惠说明"},
    "utter_recommend": {"products": "推荐的商品（名称 ¥价格，用、隔开）", "because": "顾客买过、引出推荐的商品"},
    "utter_recommend_popular": {"products": "近期热销的商品（名称 ¥价格，用、隔开）"},
}


def template_variables(text: str) -> list[str]:
    """The ``{names}`` a text uses; ValueError when its braces are malformed."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"模板中的花括号不成对：{exc}") from None
    names = []
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not re.fullmatch(r"\w+", field) or spec or conversion:
            raise ValueError(f"模板变量 {{{field}}} 的写法不对：只能是 {{变量名}}")
        names.append(field)
    return names


def allowed_variables(catalog: ResponseCatalog, template: str) -> dict[str, str]:
    """What a variant of ``template`` may use: the customer's state, what the action
    passes, and whatever the default texts themselves use."""
    allowed = dict(CUSTOMER_VARIABLES)
    allowed.update(ACTION_VARIABLES.get(template, {}))
    for default in catalog.responses.get(template, []):
        for name in template_variables(default.text):
            allowed.setdefault(name, "由动作填入")
    return allowed


def validate_variant(catalog: ResponseCatalog, template: str, stage: str, text: str,
                     persona: str | None = None) -> str:
    """The cleaned text, or ValueError naming what is wrong."""
    if template not in catalog.responses:
        raise ValueError(f"未知的回复模板 {template!r}")
    if stage not in STAGES:
        raise ValueError(f"未知的阶段 {stage!r}；可选：{'、'.join(STAGES)}")
    if persona is not None and persona not in PERSONAS:
        raise ValueError(f"未知的客户类型 {persona!r}；可选：{'、'.join(PERSONAS)}")
    text = text.strip()
    if not text:
        raise ValueError("回复内容不能为空")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"回复内容太长（{len(text)} 字），最多 {MAX_TEXT_CHARS} 字")
    allowed = allowed_variables(catalog, template)
    unknown = [n for n in dict.fromkeys(template_variables(text)) if n not in allowed]
    if unknown:
        raise ValueError(f"模板中有未知变量：{'、'.join('{' + n + '}' for n in unknown)}；"
                         f"可用变量：{'、'.join('{' + n + '}' for n in allowed)}")
    return text


@dataclass(frozen=True)
class Variant:
    id: int
    text: str
    weight: float
    persona: str | None
    variables: frozenset[str]
    pinned: bool = False


class VariantStore:
    """The enabled variants, held in memory so the NLG endpoint never waits for the
    database. Writers in this process call ``load`` after committing; changes made by
    other processes (the analytics jobs) arrive with the periodic reload."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], list[Variant]] = {}

    def load(self, db: Session) -> None:
        by_key: dict[tuple[str, str], list[Variant]] = defaultdict(list)
        # An admin's veto of the analytics loop's choice takes the variant out of use.
        rows = db.scalars(select(ReplyVariant).where(ReplyVariant.enabled.is_(True), ReplyVariant.weight > 0,
                                                     loop_policy.usable(ReplyVariant)))
        for row in rows:
            by_key[(row.template, row.stage)].append(
                Variant(row.id, row.text, row.weight, row.persona, frozenset(template_variables(row.text)),
                        loop_policy.is_pinned(row.loop_mode)))
        self._by_key = dict(by_key)  # swapped whole: readers never see half a reload

    def candidates(self, template: str, stage: str | None, values: dict,
                   persona: str | None = None) -> list[Variant]:
        """The variants this customer may be told: for their stage, with a value for
        every variable; a persona's own variants win over the stage's general ones."""
        if not stage:
            return []
        usable = [v for v in self._by_key.get((template, stage), [])
                  if v.variables <= values.keys() and v.persona in (None, persona)]
        own = [v for v in usable if persona is not None and v.persona == persona]
        pool = own or usable
        # A variant an admin pinned is the only one said in its group (loop_mode).
        return loop_policy.arms_in_use(pool, pinned=lambda v: v.pinned)

    def choose(self, template: str, stage: str | None, values: dict, persona: str | None = None,
               rng: random.Random | None = None) -> Variant | None:
        """One of the candidates, picked by weight; None means "say the default"."""
        pool = self.candidates(template, stage, values, persona)
        if not pool:
            return None
        return (rng or random).choices(pool, weights=[v.weight for v in pool])[0]


def create_variant(db: Session, catalog: ResponseCatalog, by: str, *, template: str, stage: str, text: str,
                   persona: str | None = None, enabled: bool = True, weight: float = 1.0,
                   note: str = "") -> ReplyVariant:
    text = validate_variant(catalog, template, stage, text, persona)
    _check_weight(weight)
    row = ReplyVariant(template=template, stage=stage, persona=persona, text=text, enabled=enabled,
                       weight=weight, version=1, updated_by=by)
    db.add(row)
    db.flush()
    revisions.record(db, "variant", row, "create", by, note)
    return row


def update_variant(db: Session, catalog: ResponseCatalog, row: ReplyVariant, by: str, note: str = "",
                   **changes) -> ReplyVariant:
    merged = {"template": row.template, "stage": row.stage, "persona": row.persona, "text": row.text,
              "enabled": row.enabled, "weight": row.weight}
    merged.update({k: v for k, v in changes.items() if k in merged})
    merged["text"] = validate_variant(catalog, merged["template"], merged["stage"], merged["text"],
                                      merged["persona"])
    _check_weight(merged["weight"])
    for key, value in merged.items():
        setattr(row, key, value)
    revisions.record(db, "variant", row, "update", by, note)
    return row


def delete_variant(db: Session, row: ReplyVariant, by: str, note: str = "") -> None:
    revisions.record(db, "variant", row, "delete", by, note)
    db.delete(row)
    db.flush()


def _check_weight(weight: float) -> None:
    if not 0 <= weight <= 100:
        raise ValueError("权重须在 0 到 100 之间")
