"""Every demo product carries the facts customers ask about, consistent with its name,
within the admin API's bounds, whichever command created it (seed or generate-shop)."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from api.models import Product
from api.schemas.catalogue import ProductIn
from demo.catalogue import FACTS
from demo.members import PRODUCTS, seed
from demo.shop import CATALOG, generate_demo_shop

NOW = datetime(2026, 11, 22, 8, 0)
# A measure in a product's name ("500ml", "20 寸", "10000mAh") must be among its attributes.
MEASURE = re.compile(r"(\d+)\s*(ml|g|L|mAh|W|寸)")


def test_every_catalogue_product_has_facts_within_the_admin_bounds():
    assert set(FACTS) == {sku for sku, *_ in CATALOG}
    for sku, name, category, price in CATALOG:
        facts = FACTS[sku]
        assert 3 <= len(facts["attributes"]) <= 6, sku
        assert 1 <= len(facts["qas"]) <= 3 and facts["aliases"] and facts["description"], sku
        ProductIn.model_validate({"sku": sku, "name": name, "category": category, "price": price,
                                  **{k: facts[k] for k in ("description", "attributes", "aliases", "stock", "on_sale")},
                                  "qas": [{"question": q, "answer": a} for q, a in facts["qas"]]})
        values = "".join(facts["attributes"].values()).replace(" ", "")
        for number, unit in MEASURE.findall(name):
            assert number + unit in values, f"{sku} {name}: {number}{unit} not in {facts['attributes']}"


def test_some_products_are_out_of_stock_or_off_sale_and_aliases_name_one_product():
    assert 2 <= sum(f["stock"] == 0 and f["on_sale"] for f in FACTS.values()) <= 5
    assert 1 <= sum(not f["on_sale"] for f in FACTS.values()) <= 2
    owners: dict[str, str] = {}
    for sku, facts in FACTS.items():
        for alias in facts["aliases"]:
            assert owners.setdefault(alias, sku) == sku, f"alias {alias} of {owners[alias]} and {sku}"
    assert FACTS["CUP-001"]["attributes"]["容量"] == "500ml" and "保温杯" in FACTS["CUP-001"]["aliases"]
    assert any("开水" in q for q, _ in FACTS["CUP-001"]["qas"])


def stored(db) -> dict[str, Product]:
    db.expire_all()
    return {p.sku: p for p in db.scalars(select(Product).options(selectinload(Product.qas)))}


def test_seed_and_generate_shop_store_the_facts(db):
    seed(db, NOW)
    members = stored(db)
    assert set(members) == {sku for sku, *_ in PRODUCTS}
    cup = members["CUP-001"]
    assert cup.attributes["容量"] == "500ml" and cup.stock == FACTS["CUP-001"]["stock"]
    assert [qa.question for qa in cup.qas] == [q for q, _ in FACTS["CUP-001"]["qas"]]

    generate_demo_shop(db, customers=5, now=NOW)
    everything = stored(db)
    assert len(everything) == len(CATALOG)
    for sku, product in everything.items():
        facts = FACTS[sku]
        assert (product.attributes, product.aliases, product.stock, product.on_sale) == \
            (facts["attributes"], facts["aliases"], facts["stock"], facts["on_sale"]), sku
        assert [(qa.question, qa.answer) for qa in product.qas] == facts["qas"], sku
