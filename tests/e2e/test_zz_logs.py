"""After the other end-to-end tests (they share one stack; this file runs after them but
the run-command test, which has its own): no log of the stack holds a phone number, an
ID-card number, an e-mail address or one of the installation's secrets.

First the case an outside test found: a burst of messages with personal data in one
conversation makes Rasa queue them (one conversation's turns run one at a time); past
the service's 5 s deadline the service gives up and Rasa logs the text it was working on
(``rest.message.received.timeout``) as JSON with \\uXXXX escapes, where the escaped 码
before the digits hid the phone number from the mask.
"""
from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.e2e.conftest import personal_data_in_logs, start

pytestmark = pytest.mark.e2e

PHONE, ID_CARD, OLD_ID_CARD, EMAIL = "13812345678", "11010519491231002X", "110105491231002", "zhang.san@example.com"
TEXT = f"我的电话号码{PHONE}，身份证{ID_CARD}"
MORE = f"邮箱{EMAIL}，老身份证{OLD_ID_CARD}，备用电话139-0000-1111"


def _burst(stack, cookies, conv: str, count: int = 30, gap: float = 0.1) -> list[dict | None]:
    results: list[dict | None] = [None] * count

    def send(n: int) -> None:
        with httpx.Client(base_url=stack.service_url, timeout=60, cookies=cookies) as c:
            resp = c.post(f"/api/web/conversations/{conv}/messages",
                          json={"text": TEXT if n % 2 == 0 else f"{TEXT}，{MORE}"})
            results[n] = resp.json() if resp.status_code == 200 else None

    threads = []
    for n in range(count):
        t = threading.Thread(target=send, args=(n,))
        t.start()
        threads.append(t)
        time.sleep(gap)
    for t in threads:
        t.join(120)
    return results


def test_personal_data_and_secrets_never_reach_any_log(stack, customer, staff, wechat_sim):
    conv = start(customer)["conversation"]["id"]
    results = _burst(stack, customer.cookies, conv)
    assert all(r is not None for r in results), "every message is stored and answered"
    fallbacks = sum(1 for r in results if r["replies"] and r["replies"][0]["author"] == "system")
    # The same data through WeChat, and on a staff screen (which logs nothing of it either).
    wechat_sim.post("/_fake/deliver", json={"openid": "o-logs-test-0001", "text": TEXT})
    staff.get(f"/api/conversations/{conv}")
    print(f"{fallbacks} of {len(results)} turns timed out or failed")
    time.sleep(6)  # Rasa finishes (or gives up) the turns still queued, and logs

    rasa_log = stack.log_path("rasa").read_text(errors="replace")
    if fallbacks:  # Rasa was made to time out: the line that leaked is there, masked
        assert "rest.message.received.timeout" in rasa_log, "the service gave up but Rasa logged nothing"

    logs = sorted(p for p in stack.var_dir.rglob("*.log") if p.is_file())
    assert {p.stem for p in logs} >= {"service", "rasa", "actions"}, logs
    hits = personal_data_in_logs(stack.var_dir, stack.secrets_env,
                                 planted=(PHONE, ID_CARD, OLD_ID_CARD, EMAIL, "13900001111"))
    assert not hits, hits[:20]
