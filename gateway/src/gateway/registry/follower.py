"""Keeping the served supergraph current: following the registry, or watching the file.

The registry follower polls the newest version's hash every ``GATEWAY_REGISTRY_POLL_SECONDS``
(one indexed read by ``_id``; change streams need a replica set, which the development
stand-in is not) and swaps when it changed. On its first contact it seeds the registry from
the supergraph file when that file's content was never registered (a first start, or a
new checkout): so ``make demo`` needs nothing more than a gateway pointed at MongoDB.

A registry that cannot be reached leaves the gateway serving what it has; so does a version
that cannot be loaded (the holder keeps the last good one and says why).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from gateway.registry.store import RegistryStore, SubgraphSchema, sha256_hex
from gateway.runtime import SupergraphHolder
from gateway.settings import Settings
from gateway.supergraph import load_supergraph

log = logging.getLogger(__name__)


def seed_from_file(store: RegistryStore, supergraph_path: Path, sdl: str) -> int | None:
    """Register the file's supergraph (with the SDL files in ``subgraphs/`` beside it) unless
    this very content was registered before; returns the new version's number."""
    file_sha = sha256_hex(sdl)
    if store.has_file_version(file_sha):
        return None
    supergraph = load_supergraph(sdl)
    subgraphs = []
    for graph in supergraph.graphs.values():
        path = supergraph_path.parent / "subgraphs" / f"{graph.name}.graphql"
        try:
            subgraph_sdl = path.read_text()
        except OSError:
            log.warning(
                "no SDL file for a subgraph of the supergraph file: `crm-graph check` will"
                " not compose until it is published",
                extra={"subgraph": graph.name, "path": str(path)},
            )
            subgraph_sdl = ""
        subgraphs.append(SubgraphSchema(graph.name, graph.url, subgraph_sdl))
    return store.add_version(
        subgraphs,
        sdl,
        source="file",
        extra={"fileSha256": file_sha, "file": str(supergraph_path)},
    )


async def follow_registry(holder: SupergraphHolder, settings: Settings, file_sdl: str) -> None:
    store: RegistryStore | None = None
    seeded = False
    refused: str | None = None  # hash of a version that failed to load: not retried
    try:
        while True:
            try:
                if store is None:
                    store = RegistryStore(settings.registry_mongodb_url, settings.registry_database)
                if not seeded:
                    number = await asyncio.to_thread(
                        seed_from_file, store, Path(settings.supergraph_path), file_sdl
                    )
                    seeded = True
                    if number is not None:
                        log.info(
                            "registry seeded from the supergraph file", extra={"version": number}
                        )
                head = await asyncio.to_thread(store.latest_head)
                if head is not None and head[1] not in (holder.current.sha256, refused):
                    version = await asyncio.to_thread(store.get, head[0])
                    if version is not None:
                        swapped = await holder.try_swap(
                            version.supergraph, f"registry:v{version.number}"
                        )
                        refused = None if swapped else version.supergraph_sha256
                if holder.registry_status != "ok":
                    log.info(
                        "following the schema registry",
                        extra={"database": settings.registry_database},
                    )
                holder.registry_status = "ok"
            except Exception as exc:
                status = f"unreachable: {type(exc).__name__}: {exc}"[:300]
                if holder.registry_status != status:
                    log.warning(
                        "cannot read the schema registry; serving what is loaded",
                        extra={"error": status},
                    )
                holder.registry_status = status
            await asyncio.sleep(settings.registry_poll_seconds)
    finally:
        if store is not None:
            store.close()


async def watch_supergraph_file(holder: SupergraphHolder, settings: Settings) -> None:
    """Without a registry: swap when ``GATEWAY_SUPERGRAPH_PATH`` changes on disk."""
    path = Path(settings.supergraph_path)

    def stamp() -> tuple[int, int] | None:
        try:
            info = path.stat()
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)

    seen = stamp()
    while True:
        await asyncio.sleep(settings.supergraph_watch_seconds)
        now = stamp()
        if now is None or now == seen:
            continue
        seen = now
        try:
            sdl = await asyncio.to_thread(path.read_text)
        except OSError as exc:
            holder.fail(f"file:{path}", f"cannot read it: {exc}")
            continue
        await holder.try_swap(sdl, f"file:{path}")
