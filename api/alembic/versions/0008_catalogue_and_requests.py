"""catalogue facts (description, attributes, aliases, stock, Q&A) and self-service requests

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 16:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('attributes', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('aliases', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('stock', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('on_sale', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(), nullable=False,
                                      server_default=sa.text('CURRENT_TIMESTAMP')))
        batch_op.add_column(sa.Column('updated_by', sa.String(length=64), nullable=False,
                                      server_default='system'))

    op.create_table('product_qas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=200), nullable=False),
    sa.Column('answer', sa.String(length=500), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_qas_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_qas'))
    )
    with op.batch_alter_table('product_qas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_qas_product_id'), ['product_id'], unique=False)

    op.create_table('service_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_no', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('new_address', sa.String(length=200), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('handled_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_service_requests_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_service_requests_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_requests')),
    sa.UniqueConstraint('request_no', name=op.f('uq_service_requests_request_no'))
    )
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.create_index('ix_service_requests_customer_created', ['customer_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_requests_order_id'), ['order_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('service_requests')
    op.drop_table('product_qas')
    with op.batch_alter_table('products', schema=None) as batch_op:
        for column in ('updated_by', 'updated_at', 'on_sale', 'stock', 'aliases', 'attributes', 'description'):
            batch_op.drop_column(column)
