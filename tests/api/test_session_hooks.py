"""The session hooks (api/models/hooks.py) are in every process, not only the API's: a
message a scheduled job writes to a WeChat customer is owed a delivery like any other."""
from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import select

from api.models import Conversation, Customer, Message, OutboundDelivery
from ops.paths import ROOT

# What a job in the scheduler process does: its own sessions, no API start-up code run.
JOB_PROCESS = """
import sys
import api.jobs.scheduler  # the scheduler process's entry module
from api.db.session import get_sessionmaker
from api.models import Conversation, Customer, Message

assert "api.main" not in sys.modules, "the scheduler must not need the API's start-up"
with get_sessionmaker()() as db:
    customer = Customer()
    db.add(customer)
    db.flush()
    for conv_id, channel in (("w" * 32, "wechat"), ("b" * 32, "web")):
        db.add(Conversation(id=conv_id, customer_id=customer.id, channel=channel))
        db.add(Message(conversation_id=conv_id, direction="outbound", author="bot", text="会员日快乐"))
    db.commit()
"""


def test_a_scheduler_session_creates_outbound_deliveries_for_wechat_messages(settings_env, db):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", JOB_PROCESS], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    deliveries = db.scalars(select(OutboundDelivery)).all()
    assert [(d.conversation_id, d.status) for d in deliveries] == [("w" * 32, "pending")]
    wechat_message = db.scalar(select(Message).where(Message.conversation_id == "w" * 32))
    assert deliveries[0].message_id == wechat_message.id


def test_a_rolled_back_message_leaves_no_delivery(db):
    customer = Customer()
    db.add(customer)
    db.flush()
    db.add(Conversation(id="r" * 32, customer_id=customer.id, channel="wechat"))
    db.add(Message(conversation_id="r" * 32, direction="outbound", author="staff", text="稍等"))
    db.flush()
    assert db.scalar(select(OutboundDelivery.id)) is not None  # written with the message…
    db.rollback()
    assert db.scalar(select(OutboundDelivery.id)) is None  # …and gone with it
