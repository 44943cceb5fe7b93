"""stage transitions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 15:39:02.333356

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""

    op.create_table('stage_transitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('from_stage', sa.String(length=16), nullable=False),
    sa.Column('to_stage', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_stage_transitions_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_transitions'))
    )
    with op.batch_alter_table('stage_transitions', schema=None) as batch_op:
        batch_op.create_index('ix_stage_transitions_customer_id', ['customer_id'], unique=False)




def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table('stage_transitions', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_transitions_customer_id')

    op.drop_table('stage_transitions')

