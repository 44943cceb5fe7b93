"""The one settings object of the service.

Every value can be set from the environment (prefix ``HX_``) or a ``.env`` file in the
working directory. ``DATABASE_URL`` is also read without the prefix, as most hosting
platforms set it that way.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.domain.lifecycle import StageRules

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HX_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'huixiang.db'}",
        validation_alias=AliasChoices("HX_DATABASE_URL", "DATABASE_URL"),
    )
    # Rasa and its action server listen on 127.0.0.1 only; the service is the front door.
    rasa_url: str = "http://127.0.0.1:5005"
    action_server_url: str = "http://127.0.0.1:5055"
    # Rasa's own action timeout is 300 s; a customer must not wait that long.
    bot_timeout_seconds: float = 5.0

    # Shared secret between the service, Rasa (NLG endpoint) and the action server.
    internal_token: SecretStr | None = None
    # Bearer token with the admin role, for automation (scripts, imports); people log in
    # with staff accounts instead.
    admin_token: SecretStr | None = None
    staff_session_hours: float = 12.0
    # How soon reply variants changed by another process reach the NLG endpoint.
    variant_reload_seconds: float = 15.0
    # A brand's site signs its logged-in user ids with this (HMAC-SHA256) so the chat
    # can attach them to the customer; without it, user ids are refused.
    identity_secret: SecretStr | None = None

    # WeChat Official Account (api/channels/wechat.py): the callback answers once the token
    # is set; sending beyond the 5-second passive reply needs the app id and secret.
    wechat_token: SecretStr | None = None
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    # Safe mode's EncodingAESKey (43 characters): when set, unencrypted deliveries are
    # refused, as only encrypted ones have their body signed.
    wechat_aes_key: SecretStr | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    # WeChat waits 5 s for an answer and then retries; past this, the answer goes
    # through the customer-service API instead.
    wechat_reply_deadline_seconds: float = Field(default=4.0, gt=0, le=4.8)
    wechat_max_clock_skew_seconds: int = Field(default=300, ge=10)
    wechat_send_attempts: int = Field(default=5, ge=1, le=20)
    # Only one process may send (one access-token refresher): false in the others.
    wechat_sender: bool = True

    conversation_idle_minutes: int = 30
    max_message_chars: int = 2000
    cookie_secure: bool = False
    # Addresses (or networks, "10.0.0.0/8") of reverse proxies whose X-Forwarded-For is
    # believed. The service's uvicorn runs with --no-proxy-headers: only this decides.
    trusted_proxies: list[str] = []
    # Signs the web chat's client id cookie (hx_cid), so only ids this server issued are
    # accepted; generated into var/secrets.env by ops/stack.py. Unset: a random one per
    # process (visitors' cookies then last until the next restart).
    cookie_secret: SecretStr | None = None

    # How much one client may do (api/services/rate_limits.py): N events per window of
    # seconds, answered 429 with Retry-After beyond that; 0 turns a limit off. Counted in
    # the service process (one process, as scripts/run starts it).
    rate_messages_per_customer: int = Field(default=20, ge=0)  # web chat messages
    rate_messages_window_seconds: float = Field(default=60.0, gt=0)
    rate_new_sessions_per_address: int = Field(default=20, ge=0)  # new browsers (customers)
    rate_new_sessions_window_seconds: float = Field(default=600.0, gt=0)
    # Queue entries (escalations to a person) per address; beyond it the conversation
    # stays with the bot and the customer is told staff are busy.
    rate_escalations_per_address: int = Field(default=10, ge=0)
    rate_escalations_window_seconds: float = Field(default=600.0, gt=0)
    rate_failed_logins_per_address: int = Field(default=20, ge=0)  # staff logins, any username
    rate_failed_logins_window_seconds: float = Field(default=300.0, gt=0)
    # Staff login lockout, per account *and* address: this many wrong passwords within
    # the window lock that pair for login_lock_seconds, doubled for each earlier lock of
    # the same pair in the last day, up to login_lock_max_seconds.
    login_lock_after_failures: int = Field(default=5, ge=1)
    login_failure_window_seconds: float = Field(default=900.0, gt=0)
    login_lock_seconds: float = Field(default=300.0, gt=0)
    login_lock_max_seconds: float = Field(default=3600.0, gt=0)

    # Lifecycle stage thresholds (patent 000's; see api/domain/lifecycle.py).
    stage_new_max: int = 5
    stage_growing_max: int = 15
    stage_churn_days: int = 180
    stage_at_risk_factor: float = 2.0

    # Scheduled jobs (api/jobs/registry.py) run at these times in the shop's time zone.
    shop_timezone: str = "Asia/Shanghai"
    recompute_stages_cron: str = "30 2 * * *"  # minute hour day month day-of-week
    campaign_offers_cron: str = "10 0 * * *"
    # The analytics jobs (api/jobs/, listed in api/jobs/registry.py), at night in this order, the loop
    # last so it sees the night's sentiment and the day's surveys.
    sentiment_cron: str = "5 * * * *"
    personas_cron: str = "20 1 * * *"
    association_cron: str = "40 1 * * *"
    step_scores_cron: str = "0 2 * * *"
    loop_cron: str = "0 3 * * *"
    # Basket rules ("also bought"): thresholds of patent step 4, tunable per shop.
    rules_min_support: float = Field(default=0.003, gt=0, le=1)
    rules_min_confidence: float = Field(default=0.2, gt=0, le=1)
    rules_min_lift: float = Field(default=1.2, gt=0)
    rules_keep: int = Field(default=100, ge=10, le=1000)
    # The loop weighs outcomes of this many days; this share of traffic keeps exploring.
    loop_window_days: int = Field(default=90, ge=7, le=730)
    loop_exploration: float = Field(default=0.1, ge=0, le=1)

    # Where the default response texts live (Rasa's domain and response files).
    domain_path: Path = PROJECT_ROOT / "domain.yml"
    responses_dir: Path = PROJECT_ROOT / "data"
    # The trained sentiment model (analytics/sentiment.py), retrained when its data changes.
    model_dir: Path = PROJECT_ROOT / "var" / "models"

    def stage_rules(self) -> StageRules:
        return StageRules(new_max=self.stage_new_max, growing_max=self.stage_growing_max,
                          churn_days=self.stage_churn_days, at_risk_factor=self.stage_at_risk_factor)


@lru_cache
def get_settings() -> Settings:
    return Settings()
