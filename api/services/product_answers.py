"""Answers to questions about a product, from the shop's catalogue (issue 14).

The action server sends the customer's message; this finds the product in it
(api/domain/catalogue_match.py: names, aliases, parts of names — or the last product of
the conversation for "这个/它"), reads what is asked and answers from the product's own
data: price (with an offer the customer may use), stock, an attribute, the closest
admin Q&A, or an overview. What the shop does not sell and facts it does not hold are
said to be unknown — never invented.

The answer is a response name and its template variables (architecture decision 3:
the service's NLG renders the text).

The catalogue (products, attributes and Q&A: a few hundred rows) is held per process
and read again when the newest ``updated_at`` or a row count of products or Q&A
changes, so an admin's edit is answered at once at the cost of one small query a turn.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.domain import catalogue_match as cm
from api.models import Customer, Product, ProductQA
from api.services import offers
from bot.privacy import mask_text

LOW_STOCK = 10  # at or below: "仅剩 N 件"
MAX_CHOICES = 6
ANSWER_UNKNOWN = "暂无该信息"


@dataclass(frozen=True)
class ProductFacts:
    id: int
    sku: str
    name: str
    category: str
    price: Decimal
    description: str
    attributes: dict[str, str]
    aliases: tuple[str, ...]
    stock: int
    on_sale: bool

    @property
    def available(self) -> bool:
        return self.on_sale and self.stock > 0


@dataclass(frozen=True)
class Catalogue:
    version: tuple
    products: dict[str, ProductFacts]  # by sku
    matcher: cm.Matcher
    facts: cm.FactIndex

    def by_category(self, category: str) -> list[ProductFacts]:
        return [p for p in self.products.values() if p.category == category]


@dataclass(frozen=True)
class Answer:
    response: str
    slots: dict[str, str] = field(default_factory=dict)
    sku: str | None = None


_lock = threading.Lock()
_cached: dict[str, Catalogue] = {}


def clear_cache() -> None:
    with _lock:
        _cached.clear()


def _version(db: Session) -> tuple:
    return tuple(db.execute(select(
        select(func.max(Product.updated_at)).scalar_subquery(),
        select(func.count(Product.id)).scalar_subquery(),
        select(func.max(ProductQA.updated_at)).scalar_subquery(),
        select(func.count(ProductQA.id)).scalar_subquery(),
    )).one())


def catalogue(db: Session) -> Catalogue:
    """The catalogue with its matcher and Q&A index, cached per database and version."""
    version = _version(db)
    key = str(db.get_bind().url)
    with _lock:
        hit = _cached.get(key)
    if hit is not None and hit.version == version:
        return hit
    products: dict[str, ProductFacts] = {}
    for p in db.scalars(select(Product).order_by(Product.id)):
        products[p.sku] = ProductFacts(
            p.id, p.sku, p.name, p.category, p.price, p.description or "",
            {str(k): str(v) for k, v in (p.attributes or {}).items()},
            tuple(str(a) for a in (p.aliases or []) if str(a).strip()), p.stock or 0, bool(p.on_sale))
    sku_of = {p.id: p.sku for p in products.values()}
    facts = [cm.Fact(sku, key, value, "attribute") for sku, p in products.items() for key, value in p.attributes.items()]
    facts += [cm.Fact(sku_of[pid], q, a, "qa")
              for pid, q, a in db.execute(select(ProductQA.product_id, ProductQA.question, ProductQA.answer)
                                          .order_by(ProductQA.id)) if pid in sku_of]
    matcher = cm.Matcher.build([cm.CatalogueEntry(p.sku, p.name, p.category, p.aliases) for p in products.values()])
    loaded = Catalogue(version, products, matcher, cm.FactIndex(facts))
    with _lock:
        _cached[key] = loaded
    return loaded


def money(amount: Decimal) -> str:
    return f"¥{Decimal(amount):.2f}"


def stock_text(product: ProductFacts) -> str:
    if not product.on_sale:
        return "已下架"
    if product.stock <= 0:
        return "暂时缺货"
    if product.stock <= LOW_STOCK:
        return f"仅剩 {product.stock} 件"
    return "有货"


def offer_line(db: Session, customer: Customer, today: date, now: datetime, tz) -> str:
    """A sentence about an offer the customer may use today; nothing is issued."""
    held, offer = offers.usable_offer(db, customer, today, now)
    if held is not None:
        expires = ""
        if held.expires_at is not None:
            local = held.expires_at.replace(tzinfo=timezone.utc).astimezone(tz)
            expires = f"，{local.month}月{local.day}日前有效"
        return f"您有一张「{held.offer.title}」（{held.offer.detail}{expires}），下单时可以使用。"
    if offer is not None:
        return f"您现在可以领取「{offer.title}」（{offer.detail}），需要的话跟我说“领优惠券”。"
    return ""


def _choices(products: list[ProductFacts]) -> str:
    return "、".join(f"{p.name} {money(p.price)}" for p in products[:MAX_CHOICES])


def _topic(aspect: cm.Aspect) -> str:
    if aspect.attribute:
        return aspect.attribute
    topic = mask_text(aspect.question)[:30]
    return topic or "这个问题"


def answer(db: Session, customer: Customer, text: str, intent: str | None, last_sku: str | None,
           today: date, now: datetime, tz) -> Answer:
    """The response and its variables for a product question."""
    shop = catalogue(db)
    mentions = shop.matcher.mentions(text)
    best = shop.matcher.best(text)
    noun = cm.asked_noun(text)
    if best is not None and best.strength == cm.WEAK and noun and best.key in noun and noun != best.key:
        best = None  # "保温饭盒" only shares a word with 保温杯
    if best is None:
        category = shop.matcher.category_in(text)
        last = shop.products.get(last_sku) if last_sku else None
        if last is not None and (cm.has_pronoun(text) or not noun):
            return _about(db, customer, shop, last, text, mentions, intent, today, now, tz)
        if category is not None and (noun is None or category[0] in noun):
            listed = shop.by_category(category[1])
            return Answer("utter_product_choices", {"product_name": category[1], "choices": _choices(listed)})
        if noun:
            return Answer("utter_product_not_found", {"query": mask_text(noun)[:40]})
        if intent == "ask_price":
            # No product in sight: bargaining, 满减, 保价 — the shop's price rules answer.
            return Answer("utter_price")
        return Answer("utter_product_which")
    if len(best.skus) > 1:
        listed = [shop.products[s] for s in best.skus]
        return Answer("utter_product_choices", {"product_name": best.key, "choices": _choices(listed)})
    return _about(db, customer, shop, shop.products[best.skus[0]], text, mentions, intent, today, now, tz)


def _about(db: Session, customer: Customer, shop: Catalogue, product: ProductFacts, text: str,
           mentions: list[cm.Mention], intent: str | None, today: date, now: datetime, tz) -> Answer:
    rest = cm.strip_mentions(text, mentions)
    aspect = cm.detect_aspect(rest, list(product.attributes), intent)
    name = product.name
    if aspect.kind == "price":
        return Answer("utter_product_price", {"product_name": name, "price": money(product.price),
                                              "offer_line": offer_line(db, customer, today, now, tz)}, product.sku)
    if aspect.kind == "stock":
        return Answer("utter_product_stock", {"product_name": name, "stock_text": stock_text(product)}, product.sku)
    if aspect.kind == "attribute" and aspect.attribute in product.attributes:
        return Answer("utter_product_attribute", {"product_name": name, "attribute": aspect.attribute,
                                                  "value": product.attributes[aspect.attribute]}, product.sku)
    if aspect.kind == "overview":
        return Answer("utter_product_overview", {"product_name": name, "price": money(product.price),
                                                 "description": product.description or "暂无详细介绍"}, product.sku)
    closest = shop.facts.closest(product.sku, aspect.question or rest)
    if closest is not None:
        fact, _ = closest
        if fact.kind == "attribute":
            return Answer("utter_product_attribute", {"product_name": name, "attribute": fact.question,
                                                      "value": fact.answer}, product.sku)
        return Answer("utter_product_qa", {"product_name": name, "answer": fact.answer}, product.sku)
    return Answer("utter_product_fact_unknown", {"product_name": name, "topic": _topic(aspect)}, product.sku)
