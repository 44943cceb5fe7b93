"""The analytics loop's policy: its groups, and what admins' pins and vetoes mean.

The loop (``analytics.loop``: the maths; ``api.jobs.loop``: the nightly job) weighs the
alternatives ("arms") of each *group*:

- reply variants of one response template, stage and persona ("*" for none):
  key ``"utter_greet|new|*"`` (:func:`variant_group`);
- chat offers of one stage and priority, the offers that compete in ``offers.choose_offer``:
  key ``"offer|new|10"`` (:func:`offer_group`); a customer holding one of them is not
  given another (:func:`same_offer_group`).

Admins decide over the loop with a mode on each variant and offer (``loop_mode``):

- **vetoed**: never said or given (:func:`may_be_used`, :func:`usable`), and the loop
  writes no weight to it;
- **pinned**: the pinned arm(s) of a group are the only ones used (:func:`arms_in_use`;
  for offers the first pinned one wins outright, :func:`pinned_arms`), and the loop
  leaves the whole group alone (:func:`loop_decides_group`, :func:`loop_may_write`).
  Pinning a variant sets any other pinned variant of its group back to auto
  (:func:`unpinned_by`); pins of offers are per offer;
- **auto**: the loop sets the weight.

Keys are built and parsed only here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ReplyVariant
from api.models.content import LOOP_MODES

if TYPE_CHECKING:
    import pandas as pd

AUTO, PINNED, VETOED = MODES = LOOP_MODES
# What an admin setting a mode is called in the console and in the revision notes.
MODE_LABELS = {AUTO: "恢复自动", PINNED: "固定", VETOED: "否决"}
SEPARATOR = "|"
ANY_PERSONA = "*"
OFFER = "offer"

T = TypeVar("T")


# --- group keys -------------------------------------------------------------------------

class VariantGroup(NamedTuple):
    template: str
    stage: str
    persona: str | None


class OfferGroup(NamedTuple):
    stage: str
    priority: int


def variant_group(template: str, stage: str, persona: str | None) -> str:
    """The key of the variants of one template, stage and persona (None: for any persona)."""
    return SEPARATOR.join((template, stage, persona or ANY_PERSONA))


def offer_group(stage: str, priority: int) -> str:
    """The key of the chat offers of one priority for one stage."""
    return SEPARATOR.join((OFFER, stage, str(priority)))


def same_offer_group(a, b) -> bool:
    """Two offers are alternatives of one group (the loop's arms, of which a customer gets
    one): chat offers of one priority with a stage in common (no stages: every stage)."""
    return (a.trigger == b.trigger == "chat" and a.priority == b.priority
            and (not a.stages or not b.stages or bool(set(a.stages) & set(b.stages))))


def _parts(key: str) -> list[str]:
    return key.split(SEPARATOR)


def group_stage(key: str) -> str:
    """The stage of a group key of either kind."""
    return _parts(key)[1]


def parse_variant_group(key: str) -> VariantGroup:
    """A variant group's key read back; lenient with a short key (fields left empty/None)."""
    parts = _parts(key)
    persona = parts[2] if len(parts) > 2 and parts[2] not in (ANY_PERSONA, "") else None
    return VariantGroup(parts[0], parts[1] if len(parts) > 1 else "", persona)


def parse_offer_group(key: str) -> OfferGroup:
    parts = _parts(key)
    if len(parts) != 3 or parts[0] != OFFER:
        raise ValueError(f"not an offer group key: {key!r}")
    return OfferGroup(parts[1], int(parts[2]))


# --- which arms may be said or given --------------------------------------------------------

def is_pinned(mode: str | None) -> bool:
    return mode == PINNED


def may_be_used(mode: str | None) -> bool:
    """A vetoed variant is never said and a vetoed offer never given."""
    return mode != VETOED


def usable(model):
    """SQL condition: the rows of ``model`` (ReplyVariant or Offer) that are not vetoed."""
    return model.loop_mode != VETOED


def pinned_arms(arms: Iterable[T], pinned: Callable[[T], bool] = lambda a: is_pinned(a.loop_mode)) -> list[T]:
    """The arms an admin pinned, in the given order."""
    return [a for a in arms if pinned(a)]


def arms_in_use(arms: Sequence[T], pinned: Callable[[T], bool] = lambda a: is_pinned(a.loop_mode)) -> list[T]:
    """The arms a group may use: its pinned ones if it has any, else all of them."""
    return pinned_arms(arms, pinned) or list(arms)


# --- what the loop may decide ----------------------------------------------------------------

def loop_decides_group(modes: Iterable[str]) -> bool:
    """The loop sets a group's weights unless an admin pinned one of its arms."""
    return not any(is_pinned(m) for m in modes)


def loop_may_write(weights: pd.DataFrame) -> pd.Series:
    """Rows (columns group, mode) whose weight the loop may write: auto arms of the groups
    it decides (no arm pinned)."""
    pinned_groups = weights.loc[weights["mode"] == PINNED, "group"]
    return (weights["mode"] == AUTO) & ~weights["group"].isin(pinned_groups)


# --- what a pin does to the rest of its group ---------------------------------------------------

def may_pin(enabled: bool) -> bool:
    """Only an enabled variant or offer can be pinned (a pinned disabled one would silence its group)."""
    return bool(enabled)


def unpinned_by(db: Session, variant: ReplyVariant) -> list[ReplyVariant]:
    """The other pinned variants of ``variant``'s group (same template, stage and persona),
    which pinning it sets back to auto: a group has one pinned variant at most. Offers'
    pins are per offer and unpin nothing."""
    same_persona = (ReplyVariant.persona.is_(None) if variant.persona is None
                    else ReplyVariant.persona == variant.persona)
    return list(db.scalars(select(ReplyVariant).where(
        ReplyVariant.template == variant.template, ReplyVariant.stage == variant.stage, same_persona,
        ReplyVariant.loop_mode == PINNED, ReplyVariant.id != variant.id).order_by(ReplyVariant.id)))
