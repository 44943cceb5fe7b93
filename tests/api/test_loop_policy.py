"""The loop's policy (api/services/loop_policy.py): group keys and what pins and vetoes mean."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from api.services import loop_policy as policy


def test_group_keys_read_back():
    assert policy.variant_group("utter_greet", "new", None) == "utter_greet|new|*"
    assert policy.parse_variant_group("utter_greet|new|*") == ("utter_greet", "new", None)
    assert policy.parse_variant_group(policy.variant_group("utter_greet", "stable", "high_value")) == \
        ("utter_greet", "stable", "high_value")
    assert policy.offer_group("at_risk", 10) == "offer|at_risk|10"
    assert policy.parse_offer_group("offer|at_risk|10") == ("at_risk", 10)
    assert policy.group_stage("offer|at_risk|10") == "at_risk" == policy.group_stage("utter_greet|at_risk|*")
    with pytest.raises(ValueError):
        policy.parse_offer_group("utter_greet|new|*")


def test_pins_and_vetoes():
    arms = [SimpleNamespace(id=i, loop_mode=m) for i, m in enumerate(["auto", "pinned", "vetoed", "pinned"])]
    assert [a.id for a in policy.pinned_arms(arms)] == [1, 3]
    assert [a.id for a in policy.arms_in_use(arms)] == [1, 3]
    assert policy.arms_in_use(arms[:1]) == arms[:1]
    assert not policy.may_be_used("vetoed") and policy.may_be_used("auto") and policy.may_be_used("pinned")
    assert policy.loop_decides_group(["auto", "vetoed"]) and not policy.loop_decides_group(["auto", "pinned"])
    weights = pd.DataFrame({"group": ["a", "a", "b", "b", "b"],
                            "mode": ["auto", "vetoed", "auto", "pinned", "auto"]})
    assert policy.loop_may_write(weights).tolist() == [True, False, False, False, False]


def test_offers_of_one_priority_and_a_common_stage_are_one_group():
    offer = lambda priority, stages, trigger="chat": SimpleNamespace(priority=priority, stages=stages, trigger=trigger)
    assert policy.same_offer_group(offer(1, ["new"]), offer(1, ["new", "growing"]))
    assert policy.same_offer_group(offer(1, []), offer(1, ["stable"]))
    assert not policy.same_offer_group(offer(1, ["new"]), offer(2, ["new"]))
    assert not policy.same_offer_group(offer(1, ["new"]), offer(1, ["stable"]))
    assert not policy.same_offer_group(offer(1, ["new"]), offer(1, ["new"], "birthday"))
