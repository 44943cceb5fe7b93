"""The action server reaches customer data only through the service's internal API."""
from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=3)
# The service's bound on a customer's message passed as a query parameter.
MAX_TEXT = 500


class ServiceUnavailable(Exception):
    pass


class ServiceAPI:
    def __init__(self, base_url: str | None = None, token: str | None = None,
                 timeout: aiohttp.ClientTimeout = TIMEOUT):
        self.base_url = (base_url or os.environ.get("HX_SERVICE_URL", "http://127.0.0.1:8000")).rstrip("/")
        self.token = token if token is not None else os.environ.get("HX_INTERNAL_TOKEN", "")
        self.timeout = timeout

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        return await self._call("GET", path, params=params)

    async def _call(self, method: str, path: str, params: dict[str, Any] | None = None,
                    json: dict[str, Any] | None = None) -> dict[str, Any] | None:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session:
                async with session.request(method, f"{self.base_url}{path}", params=params, json=json,
                                           headers=headers) as resp:
                    if resp.status == 404:
                        return None
                    if not 200 <= resp.status < 300:
                        raise ServiceUnavailable(f"service answered HTTP {resp.status} for {path}")
                    return await resp.json()
        # On Python 3.10 (the bot environment) asyncio.TimeoutError is not the built-in
        # TimeoutError, and aiohttp raises the former.
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise ServiceUnavailable(f"{type(exc).__name__} for {path}") from exc

    async def customer(self, customer_id: int) -> dict[str, Any] | None:
        return await self._get(f"/internal/customers/{customer_id}")

    async def orders(self, customer_id: int, order_no: str | None = None, limit: int = 3) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if order_no:
            params["order_no"] = order_no
        data = await self._get(f"/internal/customers/{customer_id}/orders", params)
        return (data or {}).get("orders", [])

    async def claim_offer(self, customer_id: int, conversation_id: str | None) -> dict[str, Any] | None:
        return await self._call("POST", f"/internal/customers/{customer_id}/offers/claim",
                                json={"conversation_id": conversation_id})

    async def recommendations(self, customer_id: int, k: int = 3, text: str | None = None) -> dict[str, Any] | None:
        params: dict[str, Any] = {"k": k}
        if text:
            # The service anchors on a product or category the customer named.
            params["text"] = text[:MAX_TEXT]
        return await self._get(f"/internal/customers/{customer_id}/recommendations", params)

    # Answers: {"response": <domain.yml response>, "slots": {<its variables>}, ...}.
    async def product_answer(self, customer_id: int, text: str, intent: str | None,
                             last_sku: str | None) -> dict[str, Any] | None:
        return await self._get(f"/internal/customers/{customer_id}/product-answer",
                               {"text": text[:MAX_TEXT], "intent": intent or "", "last_sku": last_sku or ""})

    async def account_answer(self, customer_id: int, text: str) -> dict[str, Any] | None:
        return await self._get(f"/internal/customers/{customer_id}/account-answer", {"text": text[:MAX_TEXT]})

    # Self-service requests on orders (return / cancel / address).
    async def check_request(self, customer_id: int, kind: str, order_no: str | None) -> dict[str, Any] | None:
        params = {"kind": kind}
        if order_no:
            params["order_no"] = order_no  # else the service picks the only eligible order
        return await self._get(f"/internal/customers/{customer_id}/service-requests/check", params)

    async def create_request(self, customer_id: int, request: dict[str, Any]) -> dict[str, Any] | None:
        return await self._call("POST", f"/internal/customers/{customer_id}/service-requests", json=request)

    async def request_status(self, customer_id: int, limit: int = 3) -> dict[str, Any] | None:
        return await self._get(f"/internal/customers/{customer_id}/service-requests", {"limit": limit})
