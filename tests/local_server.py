"""A throwaway aiohttp server on a free loopback port, for bot-environment tests."""
from __future__ import annotations

import socket

from aiohttp import web


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Start ``app``; returns its runner (``await runner.cleanup()`` stops it) and base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"
