"""Ask the scripted shop questions through the web chat API and check each answer
against the shop's own data; write docs/answer-eval.md and docs/answer-eval.json.

    .venvs/service/bin/python -m ops.answer_eval

It starts the real stack (action server, Rasa with the trained model, the service) on
free ports with the demo shop in a temporary folder, signs in as a demo member, asks each
question of ops/shop_questions.yml in a conversation of its own (after the questions
listed in ``after``), and reads the expected facts from that stack's database — the
prices, stock, attributes, Q&A, points, coupons and orders the answer should state.

Two figures: **answered correctly from data** (the reply states the right fact), and
**invented facts** (the reply states a fact that is false: another price, "in stock"
for a product that is not, an amount for something the shop does not sell, other
points). A reply that is merely unhelpful is wrong, not invented.
"""
from __future__ import annotations

import json
import re
import secrets
import socket
import sys
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import httpx
import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from api.domain.lifecycle import NOT_PURCHASES
from api.domain.membership import standing_for
from api.models import Customer, CustomerIdentity, OfferIssuance, Order, Product
from api.models.order import ORDER_STATUS_LABELS
from api.services.identity import user_hash
from ops.paths import ROOT
from ops.stack import NO_CLIENT_LIMITS, Ports, Stack, new_wechat_sim_credentials
from ops.train import ensure_model

QUESTIONS = ROOT / "ops" / "shop_questions.yml"
DEFAULT_MEMBER = "demo-1001"

UNKNOWN_WORDS = ("没有找到", "暂无", "没有查到", "没有这款", "暂不销售", "没有卖", "没有在售", "未找到")
OUT_OF_STOCK_WORDS = ("缺货", "售罄", "无货", "没有货", "暂无库存", "卖完")
IN_STOCK_WORDS = ("有货", "现货", "有库存", "库存充足", "仅剩", "还剩")
REFUSAL_WORDS = ("无法", "不能", "不支持", "超过", "已过", "不符合")
_AMOUNT = re.compile(r"[¥￥]\s*(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*元")


@dataclass
class Outcome:
    question: str
    kind: str
    expected: str
    reply: str
    correct: bool
    invented: bool


def _amounts(text: str) -> set[Decimal]:
    return {Decimal(a or b) for a, b in _AMOUNT.findall(text)}


def _price_texts(price: Decimal) -> tuple[str, ...]:
    texts = (f"{price:.2f}",)
    return texts + ((str(int(price)),) if price == int(price) else ())


def _level(db: Session, customer: Customer) -> str:
    spent = sum((o.amount for o in db.scalars(select(Order).where(
        Order.customer_id == customer.id, Order.status.not_in(NOT_PURCHASES)))), Decimal(0))
    return standing_for(spent).level.name


class Checker:
    """The expected fact of a question, read from the stack's database, and the check."""

    def __init__(self, db: Session, now: datetime):
        self.db, self.now = db, now

    def product(self, sku: str) -> Product:
        product = self.db.scalar(select(Product).where(Product.sku == sku))
        if product is None:
            raise ValueError(f"the demo shop has no product {sku}")
        return product

    def member(self, user_id: str) -> Customer:
        return self.db.scalar(select(Customer).join(CustomerIdentity).where(
            CustomerIdentity.kind == "user_id", CustomerIdentity.value == user_id))

    def check(self, item: dict, reply: str) -> tuple[str, bool, bool]:
        """(expected fact, correct, invented)"""
        kind = item["kind"]
        said = reply.replace(" ", "")
        if kind == "price":
            price = self.product(item["sku"]).price
            right = any(t in said for t in _price_texts(price))
            return f"¥{price:.2f}", right, not right and bool(_amounts(reply))
        if kind == "stock":
            p = self.product(item["sku"])
            if not p.on_sale:
                expected, words, wrong = "已下架", ("下架", "停售"), IN_STOCK_WORDS
            elif p.stock <= 0:
                expected, words, wrong = "缺货", OUT_OF_STOCK_WORDS, IN_STOCK_WORDS
            else:
                expected, words, wrong = f"有货（库存 {p.stock}）", IN_STOCK_WORDS, OUT_OF_STOCK_WORDS
            right = any(w in said for w in words)
            return expected, right, not right and any(w in said for w in wrong)
        if kind == "attribute":
            value = (self.product(item["sku"]).attributes or {}).get(item["attribute"])
            if value is None:
                raise ValueError(f"{item['sku']} has no attribute {item['attribute']}")
            return value, str(value).replace(" ", "") in said, False
        if kind == "qa":
            # An admin's Q&A answer, or the attribute that holds the same fact (是否可装开水).
            p = self.product(item["sku"])
            facts = [qa.answer.replace(" ", "")[:12] for qa in p.qas] + \
                [str(v).replace(" ", "") for k, v in (p.attributes or {}).items() if k in item.get("or_attributes", ())]
            return " / ".join(qa.answer for qa in p.qas), any(f in said for f in facts), False
        if kind in ("not_sold", "unknown_fact"):
            right = any(w in said for w in UNKNOWN_WORDS)
            invented = bool(_amounts(reply)) or any(w in said for w in IN_STOCK_WORDS)
            return "没有 / 暂无该信息", right and not invented, invented
        customer = self.member(item.get("member", DEFAULT_MEMBER))
        if kind == "points":
            right = str(customer.points) in said
            stated = {int(n) for pair in re.findall(r"(\d+)\s*(?:个)?积分|积分[^\d]{0,6}(\d+)", reply)
                      for n in pair if n}
            return f"{customer.points} 积分", right, bool(stated - {customer.points})
        if kind == "level":
            level = _level(self.db, customer)
            return level, level in said, False
        if kind == "coupons":
            held = [i.coupon_code for i in self.db.scalars(select(OfferIssuance).where(
                OfferIssuance.customer_id == customer.id, OfferIssuance.coupon_code.is_not(None),
                OfferIssuance.redeemed_at.is_(None), OfferIssuance.expires_at > self.now))]
            if held:
                return "、".join(held), all(c in said for c in held), False
            return "没有可用的优惠券", "没有" in said or "暂无" in said, bool(re.search(r"[A-Z]{2,}\d{4,}", reply))
        order = self.db.scalar(select(Order).where(Order.order_no == item["order_no"]))
        if kind == "order_status":
            label = ORDER_STATUS_LABELS[order.status]
            # The waybill matters while the parcel travels.
            waybill = order.tracking_no if order.status == "shipped" else None
            right = label in said and (not waybill or waybill in said)
            others = [v for k, v in ORDER_STATUS_LABELS.items() if k != order.status and v in said]
            return label + (f"，{waybill}" if waybill else ""), right, bool(others) and not right
        refused = any(w in said for w in REFUSAL_WORDS)
        if kind in ("return_refused", "cancel_refused"):
            return f"{order.order_no} 不可{'退货' if kind == 'return_refused' else '取消'}", refused, False
        if kind == "cancel_allowed":
            return f"确认取消 {order.order_no}", order.order_no in said and "确认" in said and not refused, False
        raise ValueError(f"unknown kind {kind!r}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask_all(stack: Stack, questions: list[dict]) -> list[tuple[dict, str]]:
    secret = stack.secrets_env["HX_IDENTITY_SECRET"]
    answered = []
    for item in questions:
        member = item.get("member", DEFAULT_MEMBER)
        with httpx.Client(base_url=stack.service_url, timeout=60) as client:
            session = client.post("/api/web/session", json={"user_id": member,
                                                            "user_hash": user_hash(secret, member)})
            session.raise_for_status()
            conv = session.json()["conversation"]["id"]
            reply = ""
            for text in [*item.get("after", []), item["q"]]:
                turn = client.post(f"/api/web/conversations/{conv}/messages", json={"text": text})
                turn.raise_for_status()
                reply = "\n".join(r["text"] for r in turn.json()["replies"])
        answered.append((item, reply))
    return answered


def evaluate(stack: Stack, questions: list[dict]) -> list[Outcome]:
    answered = ask_all(stack, questions)
    engine = create_engine(f"sqlite:///{stack.var_dir / 'huixiang.db'}")
    with Session(engine) as db:
        checker = Checker(db, datetime.utcnow())
        outcomes = []
        for item, reply in answered:
            expected, correct, invented = checker.check(item, reply)
            outcomes.append(Outcome(item["q"], item["kind"], expected, reply, correct, invented))
    engine.dispose()
    return outcomes


def markdown(outcomes: list[Outcome], model: Path) -> str:
    right = sum(o.correct for o in outcomes)
    invented = sum(o.invented for o in outcomes)
    lines = [
        "# Answers from the shop's data: scripted questions",
        "",
        "Written by `.venvs/service/bin/python -m ops.answer_eval`: the questions of",
        "`ops/shop_questions.yml` asked through the web chat API by a signed-in demo member, on",
        f"a fresh stack with the demo shop and model `{model.name}`; each expected fact read from",
        "that stack's database.",
        "",
        f"- questions: {len(outcomes)}",
        f"- answered correctly from data: **{right} of {len(outcomes)} ({right / len(outcomes):.0%})**",
        f"- invented facts: **{invented}**",
        "",
        "| question | kind | expected | correct | invented | reply |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        reply = o.reply.replace("\n", " ").replace("|", "｜")
        lines.append(f"| {o.question} | {o.kind} | {o.expected} | {'✓' if o.correct else '✗'} | "
                     f"{'✗ invented' if o.invented else ''} | {reply} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    questions = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))["questions"]
    model = ensure_model()
    tokens = {"HX_INTERNAL_TOKEN": secrets.token_urlsafe(16), "HX_ADMIN_TOKEN": secrets.token_urlsafe(16),
              "HX_IDENTITY_SECRET": secrets.token_urlsafe(16), "HX_ADMIN_PASSWORD": secrets.token_urlsafe(12),
              **new_wechat_sim_credentials(), **NO_CLIENT_LIMITS}
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(model=model, var_dir=Path(tmp), secrets_env=tokens,
                      ports=Ports(service=_free_port(), rasa=_free_port(), actions=_free_port()))
        try:
            stack.start()
            stack.wait_ready(timeout=300)
            outcomes = evaluate(stack, questions)
        finally:
            stack.stop_all()
    (ROOT / "docs" / "answer-eval.md").write_text(markdown(outcomes, model), encoding="utf-8")
    (ROOT / "docs" / "answer-eval.json").write_text(
        json.dumps([asdict(o) for o in outcomes], ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    right = sum(o.correct for o in outcomes)
    invented = sum(o.invented for o in outcomes)
    print(f"{right} of {len(outcomes)} answered correctly from data, {invented} invented facts")
    for o in outcomes:
        if not o.correct:
            print(f"  ✗ {o.question} [{o.kind}] expected {o.expected!r}, got {o.reply!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
