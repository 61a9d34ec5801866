"""Import throughput and the service's memory while importing.

    uv run python benchmarks/customers_import.py [--rows 100000]

Generates a CSV (every 100th row broken), streams it to ``POST /import/customers.csv`` of the
customers process, and samples that process's resident memory (VmRSS) every 20 ms. For
comparison, the same rows in sizes 1/10 and 1/1 show whether memory grows with the file (it
must not: rows are handled in chunks of 500). A second run of the largest file measures the
"nothing changed" path (every row found, compared, left alone).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Iterator

import httpx
from customers_common import PeakRss, suite, table, token

HEADER = "externalId,name,email,phone,lifecycle,tags,channel,campaign,city,country,attributes\n"


def rows(count: int, prefix: str) -> Iterator[bytes]:
    yield ("\ufeff" + HEADER).encode()
    for i in range(count):
        if i % 100 == 99:
            line = f"{prefix}-{i},Broken {i},not-an-email,,LEAD,,,,,,\n"
        else:
            line = (
                f"{prefix}-{i},Bench Customer {i} Müller,c{i}.{prefix}@example.com,"
                f"+49 30 {1000000 + i},{['LEAD', 'PROSPECT'][i % 2]},a;b,web,bench,Köln,DE,"
                f'"{{""n"": {i}}}"\n'
            )
        yield line.encode()


def run(url: str, bearer: str, pid: int, count: int, prefix: str) -> list[object]:
    with PeakRss(pid) as memory:
        started = time.perf_counter()
        response = httpx.post(
            f"{url}/import/customers.csv",
            content=rows(count, prefix),
            headers={"Authorization": f"Bearer {bearer}", "Content-Type": "text/csv"},
            timeout=3600,
        )
        elapsed = time.perf_counter() - started
    response.raise_for_status()
    report = response.json()
    return [
        count,
        report["created"],
        report["unchanged"],
        report["failed"],
        f"{elapsed:.1f}",
        f"{count / elapsed:,.0f}",
        f"{memory.baseline / 1024:.0f}",
        f"{memory.peak / 1024:.0f}",
        f"{(memory.peak - memory.baseline) / 1024:.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with suite() as running:
        url = f"http://127.0.0.1:{running.ports['customers']}"
        pid = running.processes["customers"].pid
        bearer = token()
        results = []
        small = max(1000, args.rows // 10)
        results.append(run(url, bearer, pid, small, uuid.uuid4().hex[:6]))
        prefix = uuid.uuid4().hex[:6]
        results.append(run(url, bearer, pid, args.rows, prefix))
        results.append(run(url, bearer, pid, args.rows, prefix))  # again: nothing changes
    table(
        "CSV import through POST /import/customers.csv (customers process memory: VmRSS)",
        [
            "rows",
            "created",
            "unchanged",
            "failed",
            "seconds",
            "rows/s",
            "RSS before MiB",
            "peak MiB",
            "growth MiB",
        ],
        results,
    )


if __name__ == "__main__":
    main()
