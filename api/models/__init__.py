"""ORM models. Alembic (api/alembic) owns the schema; these describe it."""
from api.models.conversation import Conversation, Message
from api.models.customer import Customer, CustomerIdentity, StageTransition
from api.models.order import Order, OrderItem, Product

__all__ = [
    "Conversation",
    "Customer",
    "CustomerIdentity",
    "Message",
    "Order",
    "OrderItem",
    "Product",
    "StageTransition",
]
