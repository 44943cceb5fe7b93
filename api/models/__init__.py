"""ORM models. Alembic (api/alembic) owns the schema; these describe it."""
from api.models.content import ContentRevision, Offer, OfferIssuance, ReplyVariant
from api.models.conversation import Conversation, Message
from api.models.customer import Customer, CustomerIdentity, CustomerMerge, StageTransition
from api.models.job import JobRun
from api.models.order import Order, OrderItem, Product
from api.models.staff import StaffSession, StaffUser

__all__ = [
    "ContentRevision",
    "Conversation",
    "Customer",
    "CustomerIdentity",
    "CustomerMerge",
    "JobRun",
    "Message",
    "Offer",
    "OfferIssuance",
    "Order",
    "OrderItem",
    "Product",
    "ReplyVariant",
    "StageTransition",
    "StaffSession",
    "StaffUser",
]
