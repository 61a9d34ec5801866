"""Small helpers for tests that talk GraphQL over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from crmstack.suite import make_token


async def post(
    url: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            url, json={"query": query, "variables": variables or {}}, headers=headers
        )


async def gql(
    url: str, query: str, variables: dict[str, Any] | None = None, *, token: str
) -> dict[str, Any]:
    """POST and return the whole body (``data`` and ``errors``), asserting HTTP 200."""
    response = await post(url, query, variables, token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def data(
    url: str, query: str, variables: dict[str, Any] | None = None, *, token: str
) -> dict[str, Any]:
    """POST and return ``data``, failing the test on any GraphQL error."""
    body = await gql(url, query, variables, token=token)
    assert not body.get("errors"), body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


def admin_post(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """A synchronous POST as the demo admin (``admin-1``) that must answer 200: its body."""
    response = httpx.post(
        url,
        json={"query": query, "variables": variables or {}},
        headers={"authorization": f"Bearer {make_token('admin', 'admin-1')}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
