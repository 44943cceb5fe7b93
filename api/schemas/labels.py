"""The Chinese names staff screens show for the codes the API returns."""
from __future__ import annotations

from pydantic import BaseModel


class LabelsOut(BaseModel):
    """Each map is code -> Chinese name, in the order the Python constant lists them."""

    stages: dict[str, str]  # api.models.customer.STAGE_LABELS
    jobs: dict[str, str]  # the label of each job of api/jobs/registry.py
    personas: dict[str, str]  # api.models.customer.PERSONA_LABELS
    order_statuses: dict[str, str]  # api.models.order.ORDER_STATUS_LABELS
    steps: dict[str, str]  # api.models.analytics.STEP_LABELS
    merge_statuses: dict[str, str]  # api.services.merge.STATUS_LABELS
    loop_modes: dict[str, str]  # api.services.loop_policy.MODE_LABELS: what setting a mode is called
    tag_families: dict[str, str]  # api.routes.analytics.TAG_FAMILY_LABELS
    models: dict[str, str]  # analytics.steps.MODEL_NAMES
    roles: dict[str, str]  # api.models.staff.ROLE_LABELS, in the order of ROLES
    offer_kinds: dict[str, str]  # api.models.content.OFFER_KIND_LABELS, in the order of OFFER_KINDS
    offer_triggers: dict[str, str]  # api.models.content.OFFER_TRIGGER_LABELS, in the order of OFFER_TRIGGERS
