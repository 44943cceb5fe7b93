"""Does the loop pay off? A simulation with customers whose tastes we know and the loop does not.

    python -m analytics.experiments.simulate [--cycles 30] [--seed 0] [--runs 20] [--out docs]

writes ``loop-simulation.png`` (plot), ``loop-simulation.md`` (setup, table, reading) and
``loop-simulation.json`` (every number) to ``--out``.

The world
---------
Customers come in the six lifecycle stages with a realistic mix (prospect 15%, new 35%,
growing 20%, stable 12%, at risk 8%, churned 10%). For each stage there are 3–4 reply
variants (of one template, group ``"utter_greet|<stage>|*"``) and 2–3 offers (group
``"offer|<stage>"``). A conversation's hidden *satisfaction* q in [0, 1] is the stage's
base level plus the effect of the variant said plus the effect of the offer given
(:data:`DEFAULT_WORLD`; the best variant and the best offer differ from stage to stage).
Nobody observes q. What is observed, as in the shop:

- the survey, answered by 35% of customers: overall score 1 + Binomial(4, q), so 1–5
  with mean 1 + 4q;
- the sentiment of the customer's next message (70% write one): q plus Gaussian noise
  (sd 0.15), clipped to [0, 1];
- whether they bought again within the window (known for 90%): Bernoulli(0.8 q).

:func:`analytics.loop.outcome_reward` turns these into the reward; a conversation with
nothing observed counts for nothing.

A *cycle* is one run of the nightly job: ``conversations_per_cycle`` conversations pick a
variant and an offer by the current weights, then the loop's weights are recomputed by
:func:`analytics.loop.choose_weights` from all outcomes so far (each reward is credited to
both the variant and the offer of its conversation).

Three policies see the same customers and the same random outcomes (common random
numbers, so their differences are not noise of the draws):

- **fixed**: equal weights, what admins' equal-weight variants do without the loop;
- **loop**: the weights of :func:`~analytics.loop.choose_weights`;
- **oracle**: always the truly best variant and offer of the stage (an upper bound).

Admins' pins and vetoes (``modes``) apply to the loop only; fixed and oracle are the
references, so vetoing the best arm shows what the veto costs.

The module is long because the simulated world, the three policies and the report
(markdown and plot) are one experiment.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.loop import REWARD_WEIGHTS, LoopConfig, choose_weights, outcome_reward

STAGES = ("prospect", "new", "growing", "stable", "at_risk", "churned")
STAGE_NAMES = {"prospect": "潜在客户", "new": "新客户", "growing": "成长客户", "stable": "稳定客户",
               "at_risk": "流失风险", "churned": "流失客户"}
POLICIES = ("fixed", "loop", "oracle")
TEMPLATE = "utter_greet"


def reply_group(stage: str) -> str:
    return f"{TEMPLATE}|{stage}|*"


def offer_group(stage: str) -> str:
    return f"offer|{stage}"


@dataclass(frozen=True)
class World:
    """The hidden truth: satisfaction q = base[stage] + reply[stage][v] + offer[stage][o].

    Arms are numbered from 1 in each group (variant 1 is ``reply[stage][0]``).
    """

    shares: dict[str, float]
    base: dict[str, float]
    reply: dict[str, tuple[float, ...]]
    offer: dict[str, tuple[float, ...]]
    survey_rate: float = 0.35      # share of customers who answer the survey
    sentiment_rate: float = 0.7    # share who write another message
    sentiment_noise: float = 0.15  # sd of the sentiment around q
    repurchase_known: float = 0.9  # share whose repurchase window has closed
    repurchase_scale: float = 0.8  # P(repurchase) = repurchase_scale * q

    def best_reply(self, stage: str) -> int:
        return int(np.argmax(self.reply[stage])) + 1

    def best_offer(self, stage: str) -> int:
        return int(np.argmax(self.offer[stage])) + 1


DEFAULT_WORLD = World(
    shares={"prospect": 0.15, "new": 0.35, "growing": 0.20, "stable": 0.12, "at_risk": 0.08, "churned": 0.10},
    base={"prospect": 0.50, "new": 0.58, "growing": 0.62, "stable": 0.68, "at_risk": 0.40, "churned": 0.30},
    reply={"prospect": (0.00, 0.10, -0.05, 0.03),
           "new": (0.08, 0.00, -0.06),
           "growing": (-0.03, 0.00, 0.04, 0.09),
           "stable": (0.00, 0.06, -0.04),
           "at_risk": (-0.08, 0.00, 0.03, 0.12),
           "churned": (0.05, -0.05, 0.00)},
    offer={"prospect": (0.06, 0.00, -0.04),
           "new": (0.00, 0.07),
           "growing": (0.05, -0.03, 0.00),
           "stable": (-0.02, 0.04),
           "at_risk": (0.00, 0.10, 0.03),
           "churned": (0.08, 0.00, -0.05)},
)


@dataclass
class _Conversations:
    """One cycle's customers and every random number their outcomes need (shared by the policies)."""

    stage: np.ndarray          # index into STAGES
    u_reply: np.ndarray        # picks the variant by inverse CDF of the weights
    u_offer: np.ndarray
    answered: np.ndarray       # survey answered
    u_survey: np.ndarray       # (N, 4): the score is 1 + #(u < q)
    wrote: np.ndarray          # sentiment observed
    z_sentiment: np.ndarray
    known: np.ndarray          # repurchase observed
    u_repurchase: np.ndarray

    @classmethod
    def draw(cls, world: World, n: int, rng: np.random.Generator) -> _Conversations:
        p = np.array([world.shares[s] for s in STAGES], float)
        return cls(stage=rng.choice(len(STAGES), size=n, p=p / p.sum()),
                   u_reply=rng.random(n), u_offer=rng.random(n),
                   answered=rng.random(n) < world.survey_rate, u_survey=rng.random((n, 4)),
                   wrote=rng.random(n) < world.sentiment_rate, z_sentiment=rng.standard_normal(n),
                   known=rng.random(n) < world.repurchase_known, u_repurchase=rng.random(n))


@dataclass
class _Policy:
    """A policy's weights per group ({group: {arm: weight}}) and the loop's running totals."""

    name: str
    weights: dict[str, dict[int, float]]
    n: dict[tuple[str, int], int] = field(default_factory=dict)
    reward_sum: dict[tuple[str, int], float] = field(default_factory=dict)


def _arms(world: World) -> list[tuple[str, int]]:
    out = []
    for s in STAGES:
        out += [(reply_group(s), a) for a in range(1, len(world.reply[s]) + 1)]
        out += [(offer_group(s), a) for a in range(1, len(world.offer[s]) + 1)]
    return out


def _even_weights(world: World) -> dict[str, dict[int, float]]:
    w: dict[str, dict[int, float]] = {}
    for g, a in _arms(world):
        w.setdefault(g, {})[a] = 1.0
    return {g: {a: 1 / len(arms) for a in arms} for g, arms in w.items()}


def _oracle_weights(world: World) -> dict[str, dict[int, float]]:
    w = {g: dict.fromkeys(arms, 0.0) for g, arms in _even_weights(world).items()}
    for s in STAGES:
        w[reply_group(s)][world.best_reply(s)] = 1.0
        w[offer_group(s)][world.best_offer(s)] = 1.0
    return w


def _loop_weights(policy: _Policy, world: World, modes: Mapping[tuple[str, int], str],
                  config: LoopConfig) -> dict[str, dict[int, float]]:
    arms = _arms(world)
    frame = pd.DataFrame({
        "group": [g for g, _ in arms],
        "arm": [a for _, a in arms],
        "n": [policy.n.get(k, 0) for k in arms],
        "reward_sum": [policy.reward_sum.get(k, 0.0) for k in arms],
        "mode": [modes.get(k, "auto") for k in arms],
    })
    chosen = choose_weights(frame, config)
    w: dict[str, dict[int, float]] = {}
    for g, a, x in zip(chosen["group"], chosen["arm"], chosen["weight"]):
        w.setdefault(g, {})[int(a)] = float(x)
    return w


def _pick(weights: dict[int, float], u: np.ndarray) -> np.ndarray:
    """Arms (numbered from 1) for uniforms u, by inverse CDF of the weights."""
    arms = np.array(sorted(weights))
    w = np.array([weights[a] for a in arms], float)
    if w.sum() <= 0:
        raise ValueError("a group has no usable arm (all vetoed)")
    cdf = np.cumsum(w / w.sum())
    return arms[np.minimum(np.searchsorted(cdf, u, side="right"), len(arms) - 1)]


def _serve(policy: _Policy, world: World, conv: _Conversations, learn: bool) -> dict[str, float]:
    """One cycle of one policy: choose, observe, (learn), and the cycle's statistics."""
    n = len(conv.stage)
    reply = np.zeros(n, int)
    offer = np.zeros(n, int)
    q = np.zeros(n)
    best_reply = np.zeros(n, bool)
    best_offer = np.zeros(n, bool)
    for si, s in enumerate(STAGES):
        m = conv.stage == si
        if not m.any():
            continue
        reply[m] = _pick(policy.weights[reply_group(s)], conv.u_reply[m])
        offer[m] = _pick(policy.weights[offer_group(s)], conv.u_offer[m])
        q[m] = (world.base[s] + np.asarray(world.reply[s])[reply[m] - 1]
                + np.asarray(world.offer[s])[offer[m] - 1])
        best_reply[m] = reply[m] == world.best_reply(s)
        best_offer[m] = offer[m] == world.best_offer(s)
    q = np.clip(q, 0.0, 1.0)
    score = 1 + (conv.u_survey < q[:, None]).sum(axis=1)
    sentiment = np.clip(q + world.sentiment_noise * conv.z_sentiment, 0.0, 1.0)
    bought = conv.u_repurchase < world.repurchase_scale * q

    rewards = []
    for i in range(n):
        r = outcome_reward(overall=int(score[i]) if conv.answered[i] else None,
                           sentiment_after=float(sentiment[i]) if conv.wrote[i] else None,
                           repurchased=bool(bought[i]) if conv.known[i] else None)
        if r is None:
            continue
        rewards.append(r)
        if learn:
            for key in ((reply_group(STAGES[conv.stage[i]]), int(reply[i])),
                        (offer_group(STAGES[conv.stage[i]]), int(offer[i]))):
                policy.n[key] = policy.n.get(key, 0) + 1
                policy.reward_sum[key] = policy.reward_sum.get(key, 0.0) + r
    answered = score[conv.answered]
    return {
        "satisfaction": float(answered.mean()) if len(answered) else math.nan,
        "reward": float(np.mean(rewards)) if rewards else math.nan,
        "expected_satisfaction": float((1 + 4 * q).mean()),
        "best_reply_share": float(best_reply.mean()),
        "best_offer_share": float(best_offer.mean()),
        "best_share": float((best_reply.mean() + best_offer.mean()) / 2),
    }


def _run_once(world: World, cycles: int, n: int, seq: np.random.SeedSequence,
              config: LoopConfig, modes: Mapping[tuple[str, int], str]) -> list[dict]:
    outcome_seq, loop_seq = seq.spawn(2)
    rng = np.random.default_rng(outcome_seq)
    loop_seeds = np.random.default_rng(loop_seq).integers(0, 2**31 - 1, size=cycles + 1)
    fixed = _Policy("fixed", _even_weights(world))
    oracle = _Policy("oracle", _oracle_weights(world))
    loop = _Policy("loop", {})
    loop.weights = _loop_weights(loop, world, modes, replace(config, seed=int(loop_seeds[0])))
    rows = []
    for cycle in range(1, cycles + 1):
        conv = _Conversations.draw(world, n, rng)
        for policy in (fixed, loop, oracle):
            stats = _serve(policy, world, conv, learn=policy is loop)
            rows.append({"cycle": cycle, "policy": policy.name, **stats})
        loop.weights = _loop_weights(loop, world, modes, replace(config, seed=int(loop_seeds[cycle])))
    return rows


def run_simulation(cycles: int = 30, runs: int = 20, seed: int = 0, conversations_per_cycle: int = 300, *,
                   config: LoopConfig | None = None, world: World | None = None,
                   modes: Mapping[tuple[str, int], str] | None = None) -> pd.DataFrame:
    """Simulate ``runs`` independent shops for ``cycles`` nightly cycles; one row per (cycle, policy).

    Columns: ``cycle`` (1…), ``policy`` (fixed | loop | oracle), ``runs``, and for each of
    ``satisfaction`` (mean survey score 1–5 of the cycle's answered surveys) and ``reward``
    (mean reward of the cycle's conversations with an outcome): the mean over runs, its
    standard deviation over runs (``_sd``) and a 95% band of the mean (``_lo``, ``_hi``:
    mean ± 1.96 sd / sqrt(runs)). Also, means over runs: ``expected_satisfaction``
    (1 + 4 q, the noise-free value of the arms served), ``best_share`` (share of the
    choices, variant and offer, that were the stage's best arm), ``best_reply_share``,
    ``best_offer_share``.

    ``modes`` maps (group, arm) to "pinned" or "vetoed" for the loop (see
    :func:`reply_group`, :func:`offer_group`). Deterministic for a seed.
    """
    for name, value, low in (("cycles", cycles, 1), ("runs", runs, 1),
                             ("conversations_per_cycle", conversations_per_cycle, 1)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, not {value!r}")
    world = world or DEFAULT_WORLD
    config = config or LoopConfig()
    modes = dict(modes or {})
    unknown = set(modes) - set(_arms(world))
    if unknown:
        raise ValueError(f"modes name arms that do not exist: {sorted(unknown)}")
    rows = []
    for r, seq in enumerate(np.random.SeedSequence(seed).spawn(runs)):
        for row in _run_once(world, cycles, conversations_per_cycle, seq, config, modes):
            rows.append({"run": r, **row})
    per_run = pd.DataFrame(rows)
    g = per_run.groupby(["cycle", "policy"], sort=False)
    out = g[["expected_satisfaction", "best_share", "best_reply_share", "best_offer_share"]].mean()
    for metric in ("satisfaction", "reward"):
        mean = g[metric].mean()
        sd = g[metric].std(ddof=1).fillna(0.0) if runs > 1 else g[metric].mean() * 0.0
        half = 1.96 * sd / math.sqrt(runs)
        out[metric], out[f"{metric}_sd"] = mean, sd
        out[f"{metric}_lo"], out[f"{metric}_hi"] = mean - half, mean + half
    out["runs"] = runs
    out = out.reset_index()
    out["policy"] = pd.Categorical(out["policy"], categories=POLICIES, ordered=True)
    out = out.sort_values(["cycle", "policy"]).reset_index(drop=True)
    out["policy"] = out["policy"].astype(str)
    cols = ["cycle", "policy", "runs",
            "satisfaction", "satisfaction_lo", "satisfaction_hi", "satisfaction_sd",
            "reward", "reward_lo", "reward_hi", "reward_sd",
            "expected_satisfaction", "best_share", "best_reply_share", "best_offer_share"]
    return out[cols]


def gain_table(results: pd.DataFrame, metric: str = "satisfaction") -> pd.DataFrame:
    """Per cycle: the three policies' ``metric`` side by side, the loop's share of the oracle's
    gain over fixed, (loop - fixed) / (oracle - fixed), and each policy's best-arm share."""
    wide = results.pivot(index="cycle", columns="policy", values=metric)[list(POLICIES)]
    gap = wide["oracle"] - wide["fixed"]
    table = wide.copy()
    table["share_of_gain"] = (wide["loop"] - wide["fixed"]) / gap.where(gap.abs() > 1e-12)
    best = results.pivot(index="cycle", columns="policy", values="best_share")
    for p in POLICIES:
        table[f"best_share_{p}"] = best[p]
    table.columns.name = None
    return table


# --------------------------------------------------------------------------- output

def _plot(results: pd.DataFrame, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"fixed": "#888888", "loop": "#1f77b4", "oracle": "#2ca02c"}
    labels = {"fixed": "fixed (equal weights)", "loop": "loop (Thompson + 10% exploration)",
              "oracle": "oracle (best arm per stage)"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    for metric, ax, title in (("satisfaction", axes[0], "Mean survey score (1-5)"),
                              ("reward", axes[1], "Mean reward (0-1)")):
        for p in POLICIES:
            d = results[results["policy"] == p]
            ax.plot(d["cycle"], d[metric], color=colors[p], label=labels[p], lw=1.8)
            ax.fill_between(d["cycle"], d[f"{metric}_lo"], d[f"{metric}_hi"], color=colors[p], alpha=0.2, lw=0)
        ax.set_title(title)
        ax.set_xlabel("cycle (nightly run)")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="center right", fontsize=8)
    ax = axes[2]
    for p in POLICIES:
        d = results[results["policy"] == p]
        ax.plot(d["cycle"], 100 * d["best_share"], color=colors[p], label=p, lw=1.8)
    ax.set_ylim(0, 105)
    ax.set_title("Traffic on the stage's best arm (%)")
    ax.set_xlabel("cycle (nightly run)")
    ax.grid(alpha=0.3)
    runs = int(results["runs"].iloc[0])
    fig.suptitle(f"Reply/offer loop vs fixed weights and oracle; mean of {runs} runs, band: 95% interval of the mean",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt_share(x: float) -> str:
    return "–" if pd.isna(x) else f"{x * 100:.0f}%"


def _table_cycles(cycles: int) -> list[int]:
    picked = {c for c in (1, 2, 3, 4, 5) if c <= cycles}
    picked |= set(range(10, cycles + 1, 5)) | {cycles}
    return sorted(picked)


def _world_table(world: World) -> list[str]:
    lines = ["| stage | share | base q | reply variants 1… (effect on q) | offers 1… (effect on q) |",
             "|---|---:|---:|---|---|"]
    for s in STAGES:
        def arms(effects: tuple[float, ...], best: int) -> str:
            return ", ".join(f"**{e:+.2f}**" if i + 1 == best else f"{e:+.2f}" for i, e in enumerate(effects))
        lines.append(f"| {s} ({STAGE_NAMES[s]}) | {world.shares[s] * 100:.0f}% | {world.base[s]:.2f} | "
                     f"{arms(world.reply[s], world.best_reply(s))} | {arms(world.offer[s], world.best_offer(s))} |")
    return lines


def _best_share_cap(world: World, exploration: float) -> float:
    """Share of choices on the best arm when the loop is certain: (1 - e) + e / K per group."""
    total = sum(world.shares.values())
    return sum(world.shares[s] / total * ((1 - exploration) + exploration / len(world.reply[s])
                                          + (1 - exploration) + exploration / len(world.offer[s])) / 2
               for s in STAGES)


def _markdown(results: pd.DataFrame, args: argparse.Namespace, world: World, config: LoopConfig,
              seconds: float) -> str:
    sat = gain_table(results, "satisfaction")
    rew = gain_table(results, "reward")
    last = sat.index.max()
    half = max(1, last // 2)
    early = [c for c in sat.index if c <= 3]
    cmd = (f"python -m analytics.experiments.simulate --cycles {args.cycles} --seed {args.seed} --runs {args.runs} "
           f"--conversations {args.conversations} --out {args.out}")
    lines = [
        "# The reply/offer loop in simulation",
        "",
        f"Written by `analytics/experiments/simulate.py` (`.venvs/service/bin/{cmd}`, {seconds:.0f} s); rerun it rather "
        "than editing the numbers. Plot: `loop-simulation.png`; every number: `loop-simulation.json`.",
        "",
        "## Setup",
        "",
        f"Synthetic customers whose satisfaction depends on reply and offer quality that the loop cannot see. "
        f"{args.runs} independent runs (seed {args.seed}) of {args.cycles} cycles; a cycle is one nightly run of "
        f"the job: {args.conversations} conversations, each picks one reply variant (group `utter_greet|<stage>|*`) "
        "and one offer (group `offer|<stage>`) by the current weights, then the loop recomputes the weights "
        "from all outcomes so far (each reward counts for both the variant and the offer).",
        "",
        "A conversation's hidden satisfaction is q = base + variant effect + offer effect (best arm in bold; it "
        "differs by stage):",
        "",
        *_world_table(world),
        "",
        f"Observed, as in the shop: the survey by {world.survey_rate:.0%} of customers (score 1 + Binomial(4, q)); "
        f"the sentiment of the next message for {world.sentiment_rate:.0%} (q plus noise, sd "
        f"{world.sentiment_noise}); repurchase within the window for {world.repurchase_known:.0%} "
        f"(probability {world.repurchase_scale} q). `outcome_reward` combines what was observed (survey "
        f"{REWARD_WEIGHTS['survey']}, repurchase {REWARD_WEIGHTS['repurchase']}, sentiment "
        f"{REWARD_WEIGHTS['sentiment']}, weighted mean of the parts present).",
        "",
        "Policies, on the same customers and the same random outcomes: **fixed** — equal weights (the variants "
        "as admins enter them, without the loop); **loop** — `choose_weights` with "
        f"exploration {config.exploration:.0%}, prior strength {config.prior_strength:g}, "
        f"min. observations {config.min_observations}, {config.draws} draws; **oracle** — always the stage's "
        "truly best variant and offer.",
        "",
        "## Results",
        "",
        f"Mean survey score (1–5) of the cycle's answered surveys, mean over {args.runs} runs. "
        "*Share of gain*: (loop − fixed) / (oracle − fixed). *Best arm*: share of the choices (variant and "
        "offer) that were the stage's best.",
        "",
        "| cycle | fixed | loop | oracle | share of gain | best arm: fixed | best arm: loop |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in _table_cycles(int(last)):
        r = sat.loc[c]
        lines.append(f"| {c} | {r['fixed']:.2f} | {r['loop']:.2f} | {r['oracle']:.2f} | "
                     f"{_fmt_share(r['share_of_gain'])} | {_fmt_share(r['best_share_fixed'])} | "
                     f"{_fmt_share(r['best_share_loop'])} |")
    second_half = sat.loc[sat.index > half]
    rl = rew.loc[last]
    sd_last = results[(results["cycle"] == last)].set_index("policy")["satisfaction_sd"]
    lines += [
        "",
        f"Reward (0–1) in the last cycle: fixed {rl['fixed']:.3f}, loop {rl['loop']:.3f}, oracle "
        f"{rl['oracle']:.3f} (share of gain {_fmt_share(rl['share_of_gain'])}). "
        "A single run's cycle is noisy: its survey mean "
        f"has an sd of about {sd_last['loop']:.2f} over runs, as only ~{world.survey_rate * args.conversations:.0f} "
        "surveys are answered per cycle; the band in the plot is the 95% interval of the mean over runs.",
        "",
        "## Reading",
        "",
        f"- In cycle 1 the loop has no data and every arm gets an even share, so it equals fixed "
        f"(share of gain {_fmt_share(sat.loc[1, 'share_of_gain'])}). Over cycles 1–{max(early)} it reaches "
        f"{_fmt_share(sat.loc[early, 'share_of_gain'].mean())} of the oracle's gain on average, over cycles "
        f"{half + 1}–{last} {_fmt_share(second_half['share_of_gain'].mean())}.",
        f"- In the last cycle the loop scores {sat.loc[last, 'loop']:.2f} against {sat.loc[last, 'fixed']:.2f} "
        f"for fixed weights and {sat.loc[last, 'oracle']:.2f} for the oracle, with "
        f"{_fmt_share(sat.loc[last, 'best_share_loop'])} of the choices on the best arm "
        f"(fixed: {_fmt_share(sat.loc[last, 'best_share_fixed'])}).",
        f"- It stays below the oracle by design: {config.exploration:.0%} of every group's traffic is spread "
        "evenly so that an arm that was unlucky early keeps being measured (even a certain loop puts at most "
        f"{_fmt_share(_best_share_cap(world, config.exploration))} of the choices on the best arm here), and arms "
        "whose posteriors still overlap share traffic. Small groups (at risk, churned: a few dozen conversations "
        "a night) learn slowest.",
        "- The noisy parts of the reward (sentiment noise, a Bernoulli repurchase, a survey by a third of "
        "customers) are why the loop needs several nights; Beta posteriors with fractional rewards use every "
        "conversation with any outcome, not only the surveyed ones.",
        "- Pins and vetoes are tested in `tests/analytics/test_simulate.py`: vetoing each stage's best reply "
        "variant keeps the loop off it and below the oracle; pinning an arm sends the whole group to it.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analytics.experiments.simulate", description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=300, help="conversations per cycle")
    parser.add_argument("--out", default="docs")
    args = parser.parse_args(argv)
    if args.cycles < 1 or args.runs < 1 or args.conversations < 1:
        parser.error("--cycles, --runs and --conversations must be >= 1")
    config = LoopConfig()
    start = time.perf_counter()
    results = run_simulation(args.cycles, args.runs, args.seed, args.conversations, config=config)
    seconds = time.perf_counter() - start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _plot(results, out / "loop-simulation.png")
    (out / "loop-simulation.md").write_text(_markdown(results, args, DEFAULT_WORLD, config, seconds), encoding="utf-8")
    payload = {
        "command": {"cycles": args.cycles, "seed": args.seed, "runs": args.runs,
                    "conversations_per_cycle": args.conversations},
        "config": asdict(config),
        "reward_weights": REWARD_WEIGHTS,
        "world": asdict(DEFAULT_WORLD),
        "results": results.to_dict(orient="records"),
        "share_of_gain": {int(c): (None if pd.isna(v) else round(float(v), 4))
                          for c, v in gain_table(results)["share_of_gain"].items()},
    }
    (out / "loop-simulation.json").write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    last = gain_table(results).iloc[-1]
    print(f"cycle {args.cycles}: fixed {last['fixed']:.2f}, loop {last['loop']:.2f}, oracle {last['oracle']:.2f}, "
          f"share of gain {_fmt_share(last['share_of_gain'])} ({seconds:.0f} s); wrote {out}/loop-simulation.*")
    return 0


if __name__ == "__main__":
    sys.exit(main())
