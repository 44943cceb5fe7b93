"""Admin console API: stage variants of replies, offers, their history and rollback."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.schemas.types import DbId, DbCount
from api.schemas.errors import errors
from api.deps import AdminDep, CatalogDep, DbDep, require_admin
from api.models import ContentRevision, Offer, OfferIssuance, ReplyVariant
from api.models.customer import STAGE_LABELS, STAGES
from api.schemas.admin import (
    IssuanceOut,
    OfferIn,
    OfferOut,
    OfferPatch,
    PreviewCandidate,
    PreviewIn,
    PreviewOut,
    RevisionOut,
    TemplateOut,
    VariantIn,
    VariantOut,
    VariantPatch,
)
from api.services import revisions
from api.services import variants as vs
from api.services.offers import validate_offer_fields
from api.services.responses import fill_variables

router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)])

# What a preview fills in: a plausible customer of the stage.
_SAMPLE = {"name": "张小明", "coupon_code": "NEW-8K2Q3ZPA", "coupon_title": "新人专享满 99 减 15 券",
           "offer_title": "新人专享满 99 减 15 券", "offer_detail": "满 99 元减 15 元，全场通用",
           "expires_on": "12月6日", "order_no": "DD202611150001"}
_SAMPLE_POINTS = {"prospect": 0, "new": 120, "growing": 860, "stable": 3200, "at_risk": 1500, "churned": 400}


def _not_found(what: str, ident: Any) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} {ident} 不存在")


def _invalid(exc: ValueError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


def _refresh_variants(request: Request, db: Session) -> None:
    """Committed edits reach the NLG endpoint at once, with no retraining."""
    request.app.state.variants.load(db)


# --- reply variants -----------------------------------------------------------------

@router.get("/stages")
def list_stages() -> list[dict[str, str]]:
    return [{"name": s, "label": STAGE_LABELS[s]} for s in STAGES]


@router.get("/templates", response_model=list[TemplateOut])
def list_templates(db: DbDep, catalog: CatalogDep) -> list[TemplateOut]:
    by_template: dict[str, list[ReplyVariant]] = {}
    for row in db.scalars(select(ReplyVariant).order_by(ReplyVariant.template, ReplyVariant.stage, ReplyVariant.id)):
        by_template.setdefault(row.template, []).append(row)
    return [TemplateOut(name=name, defaults=[r.text for r in texts],
                        variables=vs.allowed_variables(catalog, name),
                        variants=[VariantOut.model_validate(v) for v in by_template.get(name, [])])
            for name, texts in sorted(catalog.responses.items())]


@router.post("/variants", response_model=VariantOut, status_code=status.HTTP_201_CREATED)
def create_variant(body: VariantIn, request: Request, db: DbDep, catalog: CatalogDep, admin: AdminDep) -> ReplyVariant:
    try:
        row = vs.create_variant(db, catalog, admin.username, template=body.template, stage=body.stage,
                                text=body.text, persona=body.persona, enabled=body.enabled,
                                weight=body.weight, note=body.note)
    except ValueError as exc:
        raise _invalid(exc) from None
    db.commit()
    _refresh_variants(request, db)
    return row


def _variant(db: Session, variant_id: int) -> ReplyVariant:
    row = db.get(ReplyVariant, variant_id)
    if row is None:
        raise _not_found("回复变体", variant_id)
    return row


@router.patch("/variants/{variant_id}", response_model=VariantOut)
def update_variant(variant_id: DbId, body: VariantPatch, request: Request, db: DbDep, catalog: CatalogDep,
                   admin: AdminDep) -> ReplyVariant:
    row = _variant(db, variant_id)
    changes = body.model_dump(exclude_unset=True, exclude={"note"})
    try:
        vs.update_variant(db, catalog, row, admin.username, body.note, **changes)
    except ValueError as exc:
        db.rollback()
        raise _invalid(exc) from None
    db.commit()
    _refresh_variants(request, db)
    return row


@router.delete("/variants/{variant_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_variant(variant_id: DbId, request: Request, db: DbDep, admin: AdminDep,
                   note: Annotated[str, Query(max_length=200)] = "") -> None:
    vs.delete_variant(db, _variant(db, variant_id), admin.username, note)
    db.commit()
    _refresh_variants(request, db)


@router.post("/preview", response_model=PreviewOut)
def preview(body: PreviewIn, request: Request, catalog: CatalogDep) -> PreviewOut:
    """What a customer of ``stage`` would be told: the draft, or every variant that
    could be chosen (with its weight), or the default text."""
    if body.stage not in STAGES:
        raise _invalid(ValueError(f"未知的阶段 {body.stage!r}；可选：{'、'.join(STAGES)}"))
    template = body.template or "utter_greet"
    if template not in catalog.responses:
        raise _invalid(ValueError(f"未知的回复模板 {template!r}"))
    sample = dict(_SAMPLE, stage=body.stage, stage_name=STAGE_LABELS[body.stage],
                  points=_SAMPLE_POINTS[body.stage])
    for name in vs.allowed_variables(catalog, template):
        sample.setdefault(name, f"〔{name}〕")
    if body.text is not None:
        try:
            text = vs.validate_variant(catalog, template, body.stage, body.text, body.persona)
        except ValueError as exc:
            raise _invalid(exc) from None
        candidates = [PreviewCandidate(source="draft", variant_id=None, weight=None,
                                       text=fill_variables(text, sample))]
    else:
        store: vs.VariantStore = request.app.state.variants
        options = store.candidates(template, body.stage, sample, body.persona)
        candidates = [PreviewCandidate(source="variant", variant_id=v.id, weight=v.weight,
                                       text=fill_variables(v.text, sample)) for v in options]
        if not candidates:
            candidates = [PreviewCandidate(source="default", variant_id=None, weight=None,
                                           text=fill_variables(r.text, sample))
                          for r in catalog.responses[template]]
    return PreviewOut(template=template, stage=body.stage, candidates=candidates, sample=sample)


# --- history ------------------------------------------------------------------------

@router.get("/revisions", response_model=list[RevisionOut])
def list_revisions(db: DbDep, entity: Annotated[str | None, Query(pattern="^(variant|offer)$")] = None,
                   entity_id: DbId | None = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[ContentRevision]:
    query = select(ContentRevision)
    if entity:
        query = query.where(ContentRevision.entity == entity)
    if entity_id is not None:
        query = query.where(ContentRevision.entity_id == entity_id)
    return list(db.scalars(query.order_by(ContentRevision.id.desc()).limit(limit)))


@router.post("/revisions/{revision_id}/rollback", response_model=RevisionOut, responses=errors(409))
def rollback(revision_id: DbId, request: Request, db: DbDep, catalog: CatalogDep, admin: AdminDep) -> ContentRevision:
    revision = db.get(ContentRevision, revision_id)
    if revision is None:
        raise _not_found("修订", revision_id)
    if revision.entity == "variant":
        model, check = ReplyVariant, lambda r: vs.validate_variant(catalog, r.template, r.stage, r.text, r.persona)
    else:
        model, check = Offer, _validate_offer
    try:
        created = revisions.rollback(db, revision, model, admin.username, check)
    except ValueError as exc:
        db.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, f"无法回滚：{exc}") from None
    db.commit()
    _refresh_variants(request, db)
    return created


# --- offers -------------------------------------------------------------------------

def _validate_offer(o: Offer) -> None:
    validate_offer_fields(code=o.code, kind=o.kind, trigger=o.trigger, stages=o.stages or [],
                          rules=o.rules or {}, period_days=o.period_days, valid_days=o.valid_days,
                          starts_on=o.starts_on, ends_on=o.ends_on)


def _offer_out(db: Session, offer: Offer) -> OfferOut:
    issued = db.scalar(select(func.count(OfferIssuance.id)).where(OfferIssuance.offer_id == offer.id))
    return OfferOut.model_validate(offer).model_copy(update={"issued": issued or 0})


def _offer(db: Session, offer_id: int) -> Offer:
    offer = db.get(Offer, offer_id)
    if offer is None:
        raise _not_found("优惠", offer_id)
    return offer


@router.get("/offers", response_model=list[OfferOut])
def list_offers(db: DbDep) -> list[OfferOut]:
    return [_offer_out(db, o) for o in db.scalars(select(Offer).order_by(Offer.priority.desc(), Offer.id))]


@router.post("/offers", response_model=OfferOut, status_code=status.HTTP_201_CREATED, responses=errors(409))
def create_offer(body: OfferIn, db: DbDep, admin: AdminDep) -> OfferOut:
    offer = Offer(**body.model_dump(exclude={"note"}), version=1, updated_by=admin.username)
    try:
        _validate_offer(offer)
    except ValueError as exc:
        raise _invalid(exc) from None
    if db.scalar(select(Offer.id).where(Offer.code == body.code)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"优惠编码 {body.code} 已存在")
    db.add(offer)
    db.flush()
    revisions.record(db, "offer", offer, "create", admin.username, body.note)
    db.commit()
    return _offer_out(db, offer)


@router.patch("/offers/{offer_id}", response_model=OfferOut)
def update_offer(offer_id: DbId, body: OfferPatch, db: DbDep, admin: AdminDep) -> OfferOut:
    offer = _offer(db, offer_id)
    for key, value in body.model_dump(exclude_unset=True, exclude={"note"}).items():
        setattr(offer, key, value)
    try:
        _validate_offer(offer)
    except ValueError as exc:
        db.rollback()
        raise _invalid(exc) from None
    revisions.record(db, "offer", offer, "update", admin.username, body.note)
    db.commit()
    return _offer_out(db, offer)


@router.get("/offers/{offer_id}/issuances", response_model=list[IssuanceOut])
def list_issuances(offer_id: DbId, db: DbDep, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                   offset: Annotated[DbCount, Query()] = 0) -> list[OfferIssuance]:
    _offer(db, offer_id)
    return list(db.scalars(select(OfferIssuance).where(OfferIssuance.offer_id == offer_id)
                           .order_by(OfferIssuance.id.desc()).limit(limit).offset(offset)))
