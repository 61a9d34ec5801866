"""The streaming CSV import has limits on bytes and rows: beyond either, 413 naming the limit,
nothing written, and the body is not read (nor spooled to disk) beyond the byte limit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from customers_process import CustomersProcess

from support.infrastructure import Infrastructure

MAX_BYTES, MAX_ROWS = 4000, 5


@pytest.fixture(scope="module")
def limited(infrastructure: Infrastructure) -> Iterator[CustomersProcess]:
    process = CustomersProcess(
        infrastructure.mongodb_url,
        infrastructure.amqp_url,
        f"test_import_limits_{uuid.uuid4().hex[:8]}",
        infrastructure.log_dir,
        CUSTOMERS_IMPORT_MAX_BYTES=str(MAX_BYTES),
        CUSTOMERS_IMPORT_MAX_ROWS=str(MAX_ROWS),
        CUSTOMERS_CONSUMER_ENABLED="false",
    ).start()
    yield process
    process.stop()


def post_csv(process: CustomersProcess, body: bytes | Iterator[bytes]) -> httpx.Response:
    return httpx.post(
        f"{process.url}/import/customers.csv",
        content=body,
        headers={
            "authorization": f"Bearer {process.token('admin-1', ('admin',))}",
            "content-type": "text/csv",
        },
        timeout=30,
    )


def csv_of(rows: int, tag: str) -> bytes:
    lines = ["name,email", *(f"Row {i},row{i}-{tag}@example.com" for i in range(rows))]
    return ("\n".join(lines) + "\n").encode()


def count(process: CustomersProcess, tag: str) -> int:
    body = process.post(
        "query($t: String) { customers(filter: {emailContains: $t}) { totalCount } }",
        {"t": tag},
        user_id="admin-1",
        roles=("admin",),
    )
    total: int = body["data"]["customers"]["totalCount"]
    return total


def test_rows_within_the_limits_are_imported(limited: CustomersProcess) -> None:
    tag = uuid.uuid4().hex[:8]
    response = post_csv(limited, csv_of(MAX_ROWS, tag))
    assert response.status_code == 200, response.text
    assert response.json()["created"] == MAX_ROWS


def test_too_many_rows_is_413_naming_the_limit_and_writes_nothing(
    limited: CustomersProcess,
) -> None:
    tag = uuid.uuid4().hex[:8]
    response = post_csv(limited, csv_of(MAX_ROWS + 1, tag))
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "maxRows": MAX_ROWS}
    assert "CUSTOMERS_IMPORT_MAX_ROWS" in error["message"]
    assert count(limited, tag) == 0


@pytest.mark.parametrize("chunked", [False, True])
def test_too_many_bytes_is_413_naming_the_limit_and_writes_nothing(
    limited: CustomersProcess, chunked: bool
) -> None:
    tag = uuid.uuid4().hex[:8]
    body = b"name,email\n" + b"".join(
        f"A long name {i:06d} {'x' * 40},big{i}-{tag}@example.com\n".encode() for i in range(100)
    )
    assert len(body) > MAX_BYTES
    sent = iter([body[i : i + 512] for i in range(0, len(body), 512)]) if chunked else body
    response = post_csv(limited, sent)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"] == {
        "code": "PAYLOAD_TOO_LARGE",
        "maxBytes": MAX_BYTES,
    }
    assert count(limited, tag) == 0
