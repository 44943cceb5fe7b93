"""ORM models. Alembic (api/alembic) owns the schema; these describe it.

Importing this package also attaches the session hooks of api/models/hooks.py (outbox
rows for push channels, change notices) to every session of the process."""
from api.models.analytics import AnalyticsReport, AssociationRule, LoopChoice, StepScore
from api.models.channel import InboundReceipt, OutboundDelivery
from api.models.content import ContentRevision, Offer, OfferIssuance, ReplyVariant
from api.models.conversation import Conversation, ConversationEvent, Message
from api.models.customer import Customer, CustomerIdentity, CustomerMerge, StageTransition
from api.models.feedback import FollowUpTask, Survey
from api.models.job import JobRun
from api.models.order import Order, OrderItem, Product, ProductQA
from api.models.service_request import ServiceRequest
from api.models.staff import CannedReply, StaffLockout, StaffRoute, StaffSession, StaffUser
from api.models import hooks  # noqa: F401,E402 - attaches the session hooks

__all__ = [
    "AnalyticsReport",
    "AssociationRule",
    "CannedReply",
    "ContentRevision",
    "Conversation",
    "ConversationEvent",
    "Customer",
    "CustomerIdentity",
    "CustomerMerge",
    "FollowUpTask",
    "InboundReceipt",
    "JobRun",
    "LoopChoice",
    "Message",
    "Offer",
    "OfferIssuance",
    "Order",
    "OutboundDelivery",
    "OrderItem",
    "Product",
    "ProductQA",
    "ReplyVariant",
    "ServiceRequest",
    "StaffLockout",
    "StaffRoute",
    "StaffSession",
    "StaffUser",
    "StageTransition",
    "StepScore",
    "Survey",
]
