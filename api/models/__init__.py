"""ORM models. Alembic (api/alembic) owns the schema; these describe it."""
from api.models.content import ContentRevision, Offer, OfferIssuance, ReplyVariant
from api.models.conversation import Conversation, ConversationEvent, Message
from api.models.customer import Customer, CustomerIdentity, CustomerMerge, StageTransition
from api.models.job import JobRun
from api.models.order import Order, OrderItem, Product
from api.models.staff import CannedReply, StaffRoute, StaffSession, StaffUser

__all__ = [
    "CannedReply",
    "ContentRevision",
    "Conversation",
    "ConversationEvent",
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
    "StaffRoute",
    "StaffSession",
    "StaffUser",
]
