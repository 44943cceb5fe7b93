"""The loop in simulation (analytics/experiments/simulate.py): a tiny version of the docs' run, pins and vetoes."""
import json

import pandas as pd
import pytest

from analytics.experiments import simulate
from analytics.experiments.simulate import (
    DEFAULT_WORLD,
    POLICIES,
    STAGES,
    gain_table,
    offer_group,
    reply_group,
    run_simulation,
)
from analytics.loop import LoopConfig

CYCLES, RUNS = 8, 3


@pytest.fixture(scope="module")
def results():
    return run_simulation(cycles=CYCLES, runs=RUNS, seed=0, conversations_per_cycle=300)


@pytest.fixture(scope="module")
def table(results):
    return gain_table(results)


def test_one_row_per_cycle_and_policy(results):
    assert len(results) == CYCLES * len(POLICIES)
    assert list(results["policy"][:3]) == list(POLICIES)
    assert sorted(results["cycle"].unique()) == list(range(1, CYCLES + 1))
    assert (results["runs"] == RUNS).all()
    assert results["satisfaction"].between(1, 5).all()
    assert results["reward"].between(0, 1).all()
    assert (results["satisfaction_lo"] <= results["satisfaction"]).all()
    assert (results["satisfaction"] <= results["satisfaction_hi"]).all()


def test_world_has_different_best_arms_per_stage():
    assert len({DEFAULT_WORLD.best_reply(s) for s in STAGES}) > 1
    assert len({DEFAULT_WORLD.best_offer(s) for s in STAGES}) > 1
    for s in STAGES:
        assert 3 <= len(DEFAULT_WORLD.reply[s]) <= 4 and 2 <= len(DEFAULT_WORLD.offer[s]) <= 3
    assert sum(DEFAULT_WORLD.shares.values()) == pytest.approx(1.0)


def test_loop_starts_at_fixed_and_ends_between_fixed_and_oracle(table):
    first, last = table.iloc[0], table.iloc[-1]
    # no data yet: even weights, the same customers and draws as fixed
    assert first["loop"] == pytest.approx(first["fixed"])
    assert first["share_of_gain"] == pytest.approx(0.0)
    assert last["fixed"] + 0.1 < last["loop"] <= last["oracle"]


def test_share_of_gain_increases(table):
    share = table["share_of_gain"]
    assert share.iloc[-3:].mean() > share.iloc[:3].mean() + 0.2
    assert share.iloc[-1] > 0.3
    assert table["best_share_loop"].iloc[-1] > table["best_share_loop"].iloc[0] + 0.15
    assert table["best_share_oracle"].eq(1.0).all()


def test_oracle_is_best_and_fixed_is_flat(results):
    exp = results.pivot(index="cycle", columns="policy", values="expected_satisfaction")
    assert (exp["oracle"] >= exp["loop"] - 1e-9).all()
    assert (exp["oracle"] > exp["fixed"] + 0.3).all()
    fixed_best = results[results["policy"] == "fixed"]["best_share"]
    assert fixed_best.between(0.25, 0.5).all()


def test_deterministic_for_a_seed():
    a = run_simulation(cycles=3, runs=2, seed=5, conversations_per_cycle=120)
    b = run_simulation(cycles=3, runs=2, seed=5, conversations_per_cycle=120)
    pd.testing.assert_frame_equal(a, b)
    c = run_simulation(cycles=3, runs=2, seed=6, conversations_per_cycle=120)
    assert not a["satisfaction"].equals(c["satisfaction"])


def test_vetoing_the_best_reply_caps_the_loop(results):
    veto = {(reply_group(s), DEFAULT_WORLD.best_reply(s)): "vetoed" for s in STAGES}
    vetoed = run_simulation(cycles=CYCLES, runs=RUNS, seed=0, conversations_per_cycle=300, modes=veto)
    loop = vetoed[vetoed["policy"] == "loop"].set_index("cycle")
    free = results[results["policy"] == "loop"].set_index("cycle")
    oracle = vetoed[vetoed["policy"] == "oracle"].set_index("cycle")
    assert (loop["best_reply_share"] == 0).all()  # never said
    assert loop["best_offer_share"].iloc[-1] > 0.5  # offers are still learned
    late = slice(CYCLES - 2, CYCLES)
    assert loop.loc[late, "expected_satisfaction"].mean() < free.loc[late, "expected_satisfaction"].mean() - 0.05
    assert loop.loc[late, "expected_satisfaction"].mean() < oracle.loc[late, "expected_satisfaction"].mean() - 0.15
    # fixed and oracle are references and ignore the loop's modes
    for p in ("fixed", "oracle"):
        pd.testing.assert_frame_equal(vetoed[vetoed["policy"] == p].reset_index(drop=True),
                                      results[results["policy"] == p].reset_index(drop=True))


def test_pinning_sends_the_whole_group_to_the_arm():
    best = {(reply_group(s), DEFAULT_WORLD.best_reply(s)): "pinned" for s in STAGES}
    r = run_simulation(cycles=3, runs=1, seed=1, conversations_per_cycle=200, modes=best)
    assert (r[r["policy"] == "loop"]["best_reply_share"] == 1.0).all()  # from the first cycle on

    worst = {}
    for s in STAGES:
        arm = min(range(len(DEFAULT_WORLD.reply[s])), key=lambda i: DEFAULT_WORLD.reply[s][i]) + 1
        worst[(reply_group(s), arm)] = "pinned"
    r = run_simulation(cycles=3, runs=1, seed=1, conversations_per_cycle=200, modes=worst)
    loop = r[r["policy"] == "loop"]
    assert (loop["best_reply_share"] == 0.0).all()  # the loop does not overrule the admin


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        run_simulation(cycles=0, runs=1)
    with pytest.raises(ValueError):
        run_simulation(cycles=1, runs=1, conversations_per_cycle=0)
    with pytest.raises(ValueError):
        run_simulation(cycles=1, runs=1, modes={(offer_group("new"), 9): "vetoed"})
    all_vetoed = {(offer_group("new"), a): "vetoed" for a in (1, 2)}
    with pytest.raises(ValueError):
        run_simulation(cycles=1, runs=1, conversations_per_cycle=50, modes=all_vetoed)


def test_config_is_used():
    # with full exploration the loop never leaves even weights: it stays equal to fixed
    r = run_simulation(cycles=3, runs=1, seed=2, conversations_per_cycle=150, config=LoopConfig(exploration=1.0))
    t = gain_table(r)
    assert (t["loop"] == t["fixed"]).all()


def test_command_line_writes_plot_table_and_json(tmp_path, capsys):
    assert simulate.main(["--cycles", "3", "--runs", "2", "--seed", "1", "--conversations", "100",
                          "--out", str(tmp_path)]) == 0
    assert (tmp_path / "loop-simulation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "loop-simulation.md").read_text(encoding="utf-8")
    assert "| cycle | fixed | loop | oracle | share of gain |" in md
    for c in (1, 2, 3):
        assert f"\n| {c} | " in md
    data = json.loads((tmp_path / "loop-simulation.json").read_text(encoding="utf-8"))
    assert data["command"] == {"cycles": 3, "seed": 1, "runs": 2, "conversations_per_cycle": 100}
    assert len(data["results"]) == 3 * len(POLICIES)
    assert set(data["share_of_gain"]) == {"1", "2", "3"}
    assert "share of gain" in capsys.readouterr().out
