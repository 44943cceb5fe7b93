"""Products to suggest in chat: "customers who bought X also bought Y" (patent step 5).

The nightly ``association`` job (api/jobs/association.py) stores basket rules in
``association_rules`` (kind ``basket``; antecedents and consequents are product names
normalised by :func:`analytics.association.normalise_item`). For one customer:

1. the products of their paid orders of the last ``LOOKBACK_DAYS`` are what they have;
2. :func:`analytics.association.recommend` applies every rule whose antecedent they have
   and ranks the consequents by the best rule's confidence (then lift); products they
   ever paid for are left out; ``because`` names what they bought that triggered it;
3. when no rule applies (or they bought nothing), the best sellers of the last
   ``POPULAR_DAYS`` among customers of their lifecycle stage, else of the whole shop.

What the customer names comes first (issue 14). A product named with a pairing
question ("买了龙井配什么杯子好") anchors the answer on that product's rules (those whose
antecedent holds it), kept to the kind asked for (杯子 → category 杯具) when one is, else
the best sellers of that kind (reason ``category``). A kind or category named alone
("想买个保温杯送人") gives the products of that kind, best sellers first (``category``).
Products off sale or out of stock are never suggested, on any path.

The rules (at most a few hundred rows) are held per process and read again only when
the newest ``computed_at`` (or the row count) changes, so a chat turn costs one small
query for the version, one for the customer's purchases and one for the ≤ k products.
Best sellers are an aggregate over 90 days of orders: kept ``POPULAR_TTL_SECONDS``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.association import normalise_item, recommend
from api.db.base import utcnow
from api.models import AssociationRule, Customer, Order, OrderItem, Product
from api.domain.lifecycle import NOT_PURCHASES
from api.domain.catalogue_match import normalise
from api.services import product_answers

KIND = "basket"
LOOKBACK_DAYS = 365
POPULAR_DAYS = 90
POPULAR_TTL_SECONDS = 300
POPULAR_POOL = 30  # best sellers kept per stage, so leaving out what a customer owns still leaves k


@dataclass(frozen=True)
class Suggestion:
    product: Product
    confidence: float | None = None
    lift: float | None = None
    because: list[str] = field(default_factory=list)
    sold: int | None = None


@dataclass(frozen=True)
class Recommendations:
    reason: str  # anchored | category | also_bought | popular | none
    products: list[Suggestion]
    category: str | None = None  # category: the kind asked for, as the customer said it


# "买了X配什么", "X搭什么", "和X一起": the customer asks what goes with X, not for X.
PAIRING_CUES = ("配", "搭", "一起", "买了", "买过", "同时买", "顺便")


def _available(product: Product) -> bool:
    return bool(product.on_sale) and (product.stock or 0) > 0


@dataclass(frozen=True)
class _Rules:
    version: tuple
    frame: pd.DataFrame  # antecedents / consequents as frozensets of normalised names
    product_of: dict[str, int]  # normalised name → product id (the lowest id on a tie)


_lock = threading.Lock()
_rules: dict[str, _Rules] = {}
_popular: dict[tuple[str, str | None], tuple[float, list[tuple[int, int]]]] = {}


def clear_cache() -> None:
    """Forget the cached rules and best sellers (tests that reuse one database URL)."""
    with _lock:
        _rules.clear()
        _popular.clear()


def _db_key(db: Session) -> str:
    return str(db.get_bind().url)


def basket_rules(db: Session) -> _Rules:
    """The stored basket rules as a DataFrame for ``recommend``, cached per database."""
    version = tuple(db.execute(
        select(func.max(AssociationRule.computed_at), func.count(AssociationRule.id), func.max(AssociationRule.id))
        .where(AssociationRule.kind == KIND)).one())
    key = _db_key(db)
    with _lock:
        cached = _rules.get(key)
    if cached is not None and cached.version == version:
        return cached
    rows = db.execute(select(AssociationRule.antecedents, AssociationRule.consequents, AssociationRule.support,
                             AssociationRule.confidence, AssociationRule.lift)
                      .where(AssociationRule.kind == KIND).order_by(AssociationRule.rank)).all()

    def names(values) -> frozenset[str]:
        return frozenset(n for n in map(normalise_item, values or []) if n is not None)

    # A rule without an antecedent would apply to everyone: never stored, never used.
    frame = pd.DataFrame([(names(a), names(c), s, conf, lift) for a, c, s, conf, lift in rows
                          if names(a) and names(c)],
                         columns=["antecedents", "consequents", "support", "confidence", "lift"])
    wanted = set().union(*frame["consequents"]) if len(frame) else set()
    product_of: dict[str, int] = {}
    if wanted:
        for product_id, name in db.execute(select(Product.id, Product.name).order_by(Product.id)):
            normalised = normalise_item(name)
            if normalised in wanted:
                product_of.setdefault(normalised, product_id)
    loaded = _Rules(version, frame, product_of)
    with _lock:
        _rules[key] = loaded
    return loaded


def _purchases(db: Session, customer_id: int) -> list[tuple[int, str, datetime]]:
    """(product id, name, last paid purchase) of everything the customer paid for."""
    return db.execute(
        select(Product.id, Product.name, func.max(Order.placed_at))
        .join(OrderItem, OrderItem.product_id == Product.id).join(Order, Order.id == OrderItem.order_id)
        .where(Order.customer_id == customer_id, Order.status.not_in(NOT_PURCHASES))
        .group_by(Product.id, Product.name)).all()


def _also_bought(db: Session, purchases: list[tuple[int, str, datetime]], since: datetime,
                 k: int) -> list[Suggestion]:
    recent = {normalise_item(name): name for _, name, last in purchases if last >= since}
    recent.pop(None, None)
    if not recent:
        return []
    rules = basket_rules(db)
    if rules.frame.empty:
        return []
    owned = [n for n in (normalise_item(name) for _, name, _ in purchases) if n is not None]
    # Every candidate, not just k: one may name a product that no longer exists.
    ranked = recommend(rules.frame, list(recent), k=max(len(rules.frame), 1), exclude=owned)
    chosen = [(rules.product_of[row.item], row) for row in ranked.itertuples(index=False)
              if row.item in rules.product_of][: k * 2]
    products = {p.id: p for p in db.scalars(select(Product).where(Product.id.in_([pid for pid, _ in chosen])))}
    out = []
    for product_id, row in chosen:
        product = products.get(product_id)
        if product is None or normalise_item(product.name) != row.item:  # renamed since the rules were read
            continue
        if not _available(product):
            continue
        out.append(Suggestion(product, float(row.confidence), float(row.lift),
                              [recent.get(n, n) for n in row.because]))
    return out[:k]


def _best_sellers(db: Session, stage: str | None, now: datetime) -> list[tuple[int, int]]:
    """(product id, units sold) of the last POPULAR_DAYS, best first; of one stage's
    customers, or of everyone when ``stage`` is None. Cached for POPULAR_TTL_SECONDS."""
    key = (_db_key(db), stage)
    with _lock:
        hit = _popular.get(key)
    if hit is not None and time.monotonic() - hit[0] < POPULAR_TTL_SECONDS:
        return hit[1]
    sold = func.sum(OrderItem.quantity).label("sold")
    query = (select(OrderItem.product_id, sold).join(Order, Order.id == OrderItem.order_id)
             .where(Order.status.not_in(NOT_PURCHASES), Order.placed_at >= now - timedelta(days=POPULAR_DAYS))
             .group_by(OrderItem.product_id).order_by(sold.desc(), OrderItem.product_id).limit(POPULAR_POOL))
    if stage is not None:
        query = query.join(Customer, Customer.id == Order.customer_id).where(Customer.stage == stage)
    result = [(product_id, int(units)) for product_id, units in db.execute(query)]
    with _lock:
        _popular[key] = (time.monotonic(), result)
    return result


def _popular_for(db: Session, stage: str, owned: set[int], now: datetime, k: int) -> list[Suggestion]:
    for scope in (stage, None):  # prospects have no orders: their stage has no best sellers
        pool = [(pid, n) for pid, n in _best_sellers(db, scope, now) if pid not in owned]
        if pool:
            products = {p.id: p for p in db.scalars(select(Product).where(Product.id.in_([p for p, _ in pool])))}
            found = [Suggestion(products[pid], sold=n) for pid, n in pool
                     if pid in products and _available(products[pid])][:k]
            if found:
                return found
    return []


def _by_sales(db: Session, product_ids: set[int], owned: set[int], now: datetime, k: int) -> list[Suggestion]:
    """The available products among ``product_ids``, best sellers of the shop first."""
    sold = dict(_best_sellers(db, None, now))
    ids = sorted(product_ids - owned, key=lambda pid: (-sold.get(pid, 0), pid))
    if not ids:
        return []
    products = {p.id: p for p in db.scalars(select(Product).where(Product.id.in_(ids)))}
    return [Suggestion(products[pid], sold=sold.get(pid, 0)) for pid in ids
            if pid in products and _available(products[pid])][:k]


def _anchored(db: Session, anchor: Product, wanted: set[int] | None, owned: set[int], k: int) -> list[Suggestion]:
    """The products the rules whose antecedent holds ``anchor`` suggest, best rule first."""
    rules = basket_rules(db)
    name = normalise_item(anchor.name)
    if rules.frame.empty or name is None:
        return []
    applying = rules.frame[rules.frame["antecedents"].map(lambda a: name in a)]
    best: dict[str, tuple[float, float]] = {}
    for row in applying.itertuples(index=False):
        for item in row.consequents:
            score = (float(row.confidence), float(row.lift))
            if item != name and score > best.get(item, (-1.0, -1.0)):
                best[item] = score
    ranked = sorted(((item, score) for item, score in best.items() if item in rules.product_of),
                    key=lambda x: (-x[1][0], -x[1][1], x[0]))
    ids = [rules.product_of[item] for item, _ in ranked]
    products = {p.id: p for p in db.scalars(select(Product).where(Product.id.in_(ids)))} if ids else {}
    out = []
    for item, (confidence, lift) in ranked:
        product = products.get(rules.product_of[item])
        if product is None or normalise_item(product.name) != item or product.id in owned or not _available(product):
            continue
        if wanted is not None and product.id not in wanted:
            continue
        out.append(Suggestion(product, confidence, lift, [anchor.name]))
    return out[:k]


def _named(db: Session, text: str, owned: set[int], now: datetime, k: int) -> Recommendations | None:
    """What the customer's message names, if anything: a product to pair with, a kind or a category."""
    shop = product_answers.catalogue(db)
    mentions = shop.matcher.mentions(text)
    category = shop.matcher.category_in(text, mentions)
    norm = normalise(text)
    id_of = {p.sku: p.id for p in shop.products.values()}

    def kind_ids(key: str, skus: tuple[str, ...]) -> set[int]:
        return {id_of[s] for s in skus} | {id_of[s] for s, names in shop.matcher.names.items() if key in names}

    anchor = next((m for m in mentions if len(m.skus) == 1), None)
    if anchor is not None:
        anchor_facts = shop.products[anchor.skus[0]]
        others = [m for m in mentions if m is not anchor and m.start > anchor.start]
        asked_category = category if category and category[1] != anchor_facts.category else None
        if others or asked_category or any(c in norm for c in PAIRING_CUES):
            wanted: set[int] | None = None
            label = None
            if others:
                wanted, label = kind_ids(others[0].key, others[0].skus), others[0].key
            if asked_category:
                wanted = (wanted or set()) | {p.id for p in shop.by_category(asked_category[1])}
                label = label or asked_category[0]
            product = db.get(Product, anchor_facts.id)
            if product is not None:
                found = _anchored(db, product, wanted, owned | {product.id}, k)
                if found:
                    return Recommendations("anchored", found)
            if wanted:
                found = _by_sales(db, wanted, owned | {anchor_facts.id}, now, k)
                if found:
                    return Recommendations("category", found, label)
            return None
    if mentions:
        kind = max(mentions, key=lambda m: len(m.key))
        found = _by_sales(db, kind_ids(kind.key, kind.skus), set(), now, k)
        if found:
            return Recommendations("category", found, kind.key)
    if category is not None:
        found = _by_sales(db, {p.id for p in shop.by_category(category[1])}, owned, now, k)
        if found:
            return Recommendations("category", found, category[0])
    return None


def recommendations_for(db: Session, customer: Customer, k: int = 3, text: str | None = None,
                        now: datetime | None = None) -> Recommendations:
    """Up to ``k`` available products for ``customer``: for what their message names
    first, else what they have not bought yet."""
    now = now or utcnow()
    purchases = _purchases(db, customer.id)
    owned = {pid for pid, _, _ in purchases}
    if text and text.strip():
        named = _named(db, text, owned, now, k)
        if named is not None:
            return named
    suggestions = _also_bought(db, purchases, now - timedelta(days=LOOKBACK_DAYS), k)
    if suggestions:
        return Recommendations("also_bought", suggestions)
    popular = _popular_for(db, customer.stage, owned, now, k)
    return Recommendations("popular" if popular else "none", popular)
