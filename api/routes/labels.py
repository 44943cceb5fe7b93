"""GET /api/staff/labels: the Chinese names of stages, personas, order statuses, roles,
steps, … for the staff workspace and the admin console, built from the Python constants
so the pages keep no copies of their own. Any logged-in staff member may read them."""
from __future__ import annotations

from fastapi import APIRouter

from analytics.steps import MODEL_NAMES
from api.deps import StaffDep
from api.jobs.registry import JOBS
from api.models.analytics import STEP_LABELS
from api.models.content import OFFER_KIND_LABELS, OFFER_KINDS, OFFER_TRIGGER_LABELS, OFFER_TRIGGERS
from api.models.customer import PERSONA_LABELS, PERSONAS, STAGE_LABELS, STAGES
from api.models.order import ORDER_STATUS_LABELS
from api.models.staff import ROLE_LABELS, ROLES
from api.routes.analytics import TAG_FAMILY_LABELS
from api.schemas.labels import LabelsOut
from api.services.loop_policy import MODE_LABELS
from api.services.merge import STATUS_LABELS as MERGE_STATUS_LABELS

router = APIRouter(prefix="/api/staff", tags=["staff"])

def _in_order(labels: dict[str, str], codes: tuple[str, ...]) -> dict[str, str]:
    """Every code the model lists, in its order; a code without a name fails at import."""
    return {code: labels[code] for code in codes}


LABELS = LabelsOut(
    stages=_in_order(STAGE_LABELS, STAGES), jobs={name: job.label for name, job in JOBS.items()}, personas=_in_order(PERSONA_LABELS, PERSONAS),
    order_statuses=dict(ORDER_STATUS_LABELS), steps=dict(STEP_LABELS), merge_statuses=dict(MERGE_STATUS_LABELS),
    loop_modes=dict(MODE_LABELS), tag_families=dict(TAG_FAMILY_LABELS), models=dict(MODEL_NAMES),
    roles=_in_order(ROLE_LABELS, ROLES), offer_kinds=_in_order(OFFER_KIND_LABELS, OFFER_KINDS),
    offer_triggers=_in_order(OFFER_TRIGGER_LABELS, OFFER_TRIGGERS))


@router.get("/labels", response_model=LabelsOut)
def labels(_: StaffDep) -> LabelsOut:
    return LABELS
