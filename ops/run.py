"""Run the product: train if needed, start every process (and the one scheduler), print
the URLs, stop on Ctrl-C."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from ops.paths import VAR
from ops.stack import Ports, Stack, load_or_create_secrets
from ops.train import ensure_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HX_HOST", "127.0.0.1"),
                        help="interface for the service (default 127.0.0.1; 0.0.0.0 to expose)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("HX_PORT", 8000)))
    parser.add_argument("--rasa-port", type=int, default=int(os.environ.get("HX_RASA_PORT", 5005)))
    parser.add_argument("--actions-port", type=int, default=int(os.environ.get("HX_ACTIONS_PORT", 5055)))
    args = parser.parse_args()

    model = ensure_model()
    ports = Ports(service=args.port, rasa=args.rasa_port, actions=args.actions_port)
    stack = Stack(model=model, var_dir=VAR, ports=ports, host=args.host,
                  secrets_env=load_or_create_secrets(VAR / "secrets.env"))

    def shutdown(*_):
        print("\nstopping…", flush=True)
        stack.stop_all()
        sys.exit(0)

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    print("starting the action server, Rasa (about 30 s), the service and the scheduler…", flush=True)
    try:
        stack.start()
        stack.start_scheduler()
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
Press Ctrl-C to stop everything.""", flush=True)
    while True:
        for name, proc in list(stack.procs.items()):
            if proc.poll() is not None:
                print(f"{name} stopped unexpectedly (exit {proc.returncode}); see {stack.log_path(name)}",
                      file=sys.stderr)
                stack.stop_all()
                return 1
        time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
