"""Run the product: train if needed, start every process (and the one scheduler), print
the URLs, stop on Ctrl-C.

WeChat: with a real Official Account configured (HX_WECHAT_APP_ID in the environment or
in .env) the service uses it; otherwise an offline fake of WeChat's servers
(ops/fake_wechat.py) runs alongside, with generated demo credentials."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from dotenv import dotenv_values

from ops.paths import ROOT, VAR
from ops.stack import Ports, Stack, load_or_create_secrets, load_or_create_wechat_sim
from ops.train import ensure_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HX_HOST", "127.0.0.1"),
                        help="interface for the service (default 127.0.0.1; 0.0.0.0 to expose)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("HX_PORT", 8000)))
    parser.add_argument("--rasa-port", type=int, default=int(os.environ.get("HX_RASA_PORT", 5005)))
    parser.add_argument("--actions-port", type=int, default=int(os.environ.get("HX_ACTIONS_PORT", 5055)))
    parser.add_argument("--wechat-sim-port", type=int, default=int(os.environ.get("HX_WECHAT_SIM_PORT", 8010)),
                        help="port of the offline WeChat fake, used when no real account is configured")
    args = parser.parse_args()

    model = ensure_model()
    real_wechat = has_real_wechat_account()
    ports = Ports(service=args.port, rasa=args.rasa_port, actions=args.actions_port,
                  wechat_sim=None if real_wechat else args.wechat_sim_port)
    secrets_env = load_or_create_secrets(VAR / "secrets.env")
    if not real_wechat:
        secrets_env.update(load_or_create_wechat_sim(VAR / "secrets.env"))
    stack = Stack(model=model, var_dir=VAR, ports=ports, host=args.host, secrets_env=secrets_env)

    def shutdown(*_):
        print("\nstopping…", flush=True)
        stack.stop_all()
        sys.exit(0)

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    print("starting the action server, Rasa (about 30 s), the service and the scheduler"
          + ("" if real_wechat else ", and the offline WeChat fake") + "…", flush=True)
    try:
        stack.start()
        stack.start_scheduler()
        if not real_wechat:
            stack.start_fake_wechat()
        stack.wait_ready()
    except Exception as exc:  # noqa: BLE001 - report, clean up, exit non-zero
        print(f"start-up failed: {exc}", file=sys.stderr)
        stack.stop_all()
        return 1

    from zoneinfo import ZoneInfo

    from api.core.config import get_settings
    from api.services.identity import user_hash

    shop_tz = get_settings().shop_timezone
    jobs = ", ".join(f"{name} (next {at.astimezone(ZoneInfo(shop_tz)):%Y-%m-%d %H:%M} {shop_tz})" if at
                     else f"{name} (paused)" for name, at in stack.scheduled_jobs()) or "none"

    secret = stack.secrets_env["HX_IDENTITY_SECRET"]
    base = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    print(f"""
回响 Huixiang is running.
  Web chat (new visitor):   {base}/chat
  Web chat as demo member 张小明 (has orders):
                            {base}/chat?uid=demo-1001&uh={user_hash(secret, 'demo-1001')}
  Staff workspace:          {base}/staff  (escalated chats; staff accounts are added in the admin API)
  Admin console:            {base}/admin  (user admin, password HX_ADMIN_PASSWORD in {VAR / 'secrets.env'})
  API docs:                 {base}/docs
  Health:                   {base}/api/health
  Admin API token:          HX_ADMIN_TOKEN in {VAR / 'secrets.env'} (for scripts)
  Logs:                     {VAR / 'logs'}
  Scheduler:                running, jobs: {jobs}
{wechat_notice(stack, base, real_wechat)}
Press Ctrl-C to stop everything.""", flush=True)
    while True:
        for name, proc in list(stack.procs.items()):
            if proc.poll() is not None:
                print(f"{name} stopped unexpectedly (exit {proc.returncode}); see {stack.log_path(name)}",
                      file=sys.stderr)
                stack.stop_all()
                return 1
        time.sleep(2)


def has_real_wechat_account() -> bool:
    """An operator's own Official Account: HX_WECHAT_APP_ID in the environment or in .env
    (which the service reads itself, from the project root)."""
    return bool(os.environ.get("HX_WECHAT_APP_ID") or dotenv_values(ROOT / ".env").get("HX_WECHAT_APP_ID"))


def wechat_notice(stack: Stack, base: str, real_wechat: bool) -> str:
    if real_wechat:
        return f"""  WeChat Official Account:  configured (HX_WECHAT_APP_ID). In the WeChat admin console
                            (设置与开发 → 基本配置 → 服务器配置) register
                            https://<your public domain>/wechat/callback  (this service: {base}/wechat/callback)
                            with Token = HX_WECHAT_TOKEN and EncodingAESKey = HX_WECHAT_AES_KEY (安全模式).
                            WeChat only calls ports 80/443: put the service behind your HTTPS proxy."""
    default_sim = stack.ports.wechat_sim == 8010  # what the say command assumes
    sim_option = "" if default_sim else f" --sim {stack.wechat_sim_url}"
    return f"""  WeChat:                   no real account configured (HX_WECHAT_APP_ID), so an OFFLINE
                            SIMULATOR of WeChat's servers runs at {stack.wechat_sim_url}
                            (demo credentials HX_WECHAT_* in {VAR / 'secrets.env'}).
                            It delivers to the callback {stack.service_url}/wechat/callback
                            Try it:  cd {ROOT} && {sys.executable} -m ops.fake_wechat say 你好{sim_option}"""


if __name__ == "__main__":
    sys.exit(main())
