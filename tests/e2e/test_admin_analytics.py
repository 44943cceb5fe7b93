"""The admin console's 数据分析 and 自动优化 tabs in headless Chromium, against the real
stack — whose first start fills the demo shop (customers, orders, conversations,
surveys) and runs the analytics jobs once (ops/stack.py: prepare_database).

What an admin notices: the analytics page shows satisfaction over time as a chart, the
stage funnel, association rules and the service step scores; on the loop page, pinning
a reply variant asks first, says so, and the variant's badge shows it is pinned.
"""
from __future__ import annotations

import re
import secrets

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOT = "/tmp/admin-analytics.png"
TIMEOUT = 20000
LOOP = "/api/admin/analytics/loop"


@pytest.fixture(scope="module")
def admin_login(stack, staff) -> tuple[str, str]:
    """The stack's own admin when its password is known, else an admin made here."""
    password = stack.env().get("HX_ADMIN_PASSWORD")
    if password and httpx.post(f"{stack.service_url}/api/auth/login", timeout=30,
                               json={"username": "admin", "password": password}).status_code == 200:
        return "admin", password
    username, password = f"analytics-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    resp = staff.post("/api/staff-users", json={"username": username, "password": password, "role": "admin",
                                              "display_name": "测试管理员"})
    assert resp.status_code == 201, resp.text
    return username, password


@pytest.fixture
def page(stack, browser, admin_login):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    p = context.new_page()
    p.goto(f"{stack.service_url}/admin")
    expect(p.locator("body[data-ready='1'][data-view='login']")).to_be_attached(timeout=TIMEOUT)
    p.get_by_test_id("login-username").fill(admin_login[0])
    p.get_by_test_id("login-password").fill(admin_login[1])
    p.get_by_test_id("login-submit").click()
    expect(p.locator("body[data-view='app']")).to_be_attached(timeout=TIMEOUT)
    yield p
    context.close()


def test_the_analytics_page_shows_the_jobs_results(page):
    page.get_by_test_id("tab-analytics").click()
    expect(page).to_have_url(re.compile(r"#/analytics$"))
    chart = page.locator("[data-testid='csat-chart'] svg")
    expect(chart).to_be_visible(timeout=TIMEOUT)
    # the chart is readable without the picture: a title, and the numbers behind a summary
    assert "满意度趋势" in (chart.locator("title").first.text_content() or "")
    expect(page.locator("[data-testid='csat-chart'] details table tbody tr").first).to_be_attached()
    expect(page.get_by_test_id("kpi-csat-value")).to_have_text(re.compile(r"^\d+(\.\d)?%$"))

    expect(page.locator("[data-testid='funnel'] svg")).to_be_visible()
    expect(page.get_by_test_id("kpi-churn")).to_be_visible()
    expect(page.get_by_test_id("kpi-repurchase")).to_be_visible()
    # the association job found product rules in the demo shop's orders
    basket = page.get_by_test_id("rules-basket").get_by_test_id("rule-item")
    expect(basket.first).to_be_visible()
    assert "的客户也买" in basket.first.inner_text()
    # the step scores, with one step flagged for improvement when one stands out
    expect(page.locator("[data-testid='step-scores'] svg")).to_be_visible()
    assert page.get_by_test_id("step-score").count() >= 3
    expect(page.get_by_test_id("persona-table")).to_be_visible()
    jobs = page.get_by_test_id("job-row")
    expect(jobs.first).to_be_visible()
    assert page.locator("[data-testid='job-row'][data-job='association'] .pill-run-ok").count() == 1
    page.screenshot(path=SCREENSHOT, full_page=True)


def test_pinning_a_variant_on_the_loop_page(page, staff):
    before = staff.get(LOOP)
    assert before.status_code == 200, before.text
    groups = before.json()["variants"]["groups"]
    assert groups, "the loop job has not chosen among any reply variants"
    modes = {a["arm_id"]: a["current_mode"] for g in groups for a in g["arms"] if a["exists"]}

    page.get_by_test_id("tab-loop").click()
    # an enabled variant the loop runs automatically
    arm = page.locator("[data-testid='loop-arm'][data-kind='variant'][data-mode='auto']:not(.loop-off)") \
        .filter(has=page.get_by_test_id("loop-pin")).first
    expect(arm).to_be_visible(timeout=TIMEOUT)
    arm_id = arm.get_attribute("data-arm-id")
    try:
        arm.get_by_test_id("loop-pin").click()
        expect(page.get_by_test_id("confirm-dialog")).to_be_visible()
        page.get_by_test_id("confirm-ok").click()
        toast = page.locator("#toast")
        expect(toast).to_be_visible()
        expect(toast).to_contain_text(f"已固定：#{arm_id}")
        badge = page.locator(f"[data-testid='loop-arm'][data-arm-id='{arm_id}'][data-kind='variant'] "
                             "[data-testid='loop-mode']")
        expect(badge).to_have_attribute("data-mode", "pinned")
        expect(badge).to_have_text("已固定")
        # the API agrees, and the revision is in the variant's history
        history = staff.get("/api/admin/revisions", params={"entity": "variant", "entity_id": arm_id}).json()
        assert history[0]["note"].startswith("自动优化：固定") and history[0]["data"]["loop_mode"] == "pinned"
    finally:  # leave the loop as it was for the other tests
        now = {a["arm_id"]: a["current_mode"] for g in staff.get(LOOP).json()["variants"]["groups"]
               for a in g["arms"] if a["exists"]}
        for ident, mode in modes.items():
            if now.get(ident) != mode:
                staff.put(f"/api/admin/analytics/loop/variants/{ident}/mode", json={"mode": mode, "note": "测试还原"})
