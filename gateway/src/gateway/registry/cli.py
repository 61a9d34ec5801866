"""``crm-graph``: the schema registry from a team's CI.

    crm-graph check   --subgraph pipeline --schema pipeline.graphql
    crm-graph publish --subgraph pipeline --schema pipeline.graphql   (or --introspect URL)
    crm-graph history
    crm-graph rollback 7

``check`` composes the proposed SDL with the other subgraphs' current SDL (with
``@apollo/composition``) and lists the changes that can break clients; a change no operation
used in the last ``--window-days`` days is reported as safe. Exit 1 when composition fails or
anything breaks. ``publish`` runs the same check and, when it passes, stores the SDL and the
composed supergraph as a new version, which running gateways pick up. ``rollback`` stores
an old version's content as the newest.

The registry is the MongoDB at ``--registry``, else ``GATEWAY_REGISTRY_URL``, else
``MONGODB_URL``, else the one ``make demo`` started (``.run/mongodb-url``), else
``mongodb://127.0.0.1:27017/``; database ``GATEWAY_REGISTRY_DATABASE`` (``registry``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path

from pymongo.errors import PyMongoError

from crm_common.urls import redact
from gateway.registry.checks import run_check
from gateway.registry.composition import CompositionUnavailable
from gateway.registry.store import RegistryStore

DEMO_URL_FILE = Path(".run") / "mongodb-url"


def _demo_url_file() -> Path | None:
    candidates = []
    demo_dir = os.environ.get("CRM_DEMO_DIR")
    if demo_dir:
        candidates.append(Path(demo_dir) / "mongodb-url")
    candidates.append(Path.cwd() / DEMO_URL_FILE)
    candidates.extend(parent / DEMO_URL_FILE for parent in Path(__file__).resolve().parents)
    return next((c for c in candidates if c.is_file()), None)


def registry_url(explicit: str | None) -> str:
    for value in (explicit, os.environ.get("GATEWAY_REGISTRY_URL"), os.environ.get("MONGODB_URL")):
        if value:
            return value
    found = _demo_url_file()
    if found is not None:
        return found.read_text().strip()
    return "mongodb://127.0.0.1:27017/"


def _introspect(url: str, token: str | None) -> str:
    """The subgraph's own SDL (``{ _service { sdl } }``), as a gateway would ask for it."""
    if token is None:
        from crm_common.identity import mint_token
        from crm_common.settings import DEVELOPMENT_JWT_SECRET

        secret = os.environ.get("JWT_SECRET") or DEVELOPMENT_JWT_SECRET
        token = mint_token(secret, user_id="crm-graph", roles=["service"], ttl_seconds=300)
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": "{ _service { sdl } }"}).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    if body.get("errors") or not body.get("data"):
        raise SystemExit(f"introspection of {url} failed: {body.get('errors')}")
    return str(body["data"]["_service"]["sdl"])


def _schema_text(args: argparse.Namespace) -> str:
    if getattr(args, "introspect", None):
        return _introspect(args.introspect, args.token)
    if not args.schema:
        raise SystemExit("give --schema FILE (or, for publish, --introspect URL)")
    return Path(args.schema).read_text()


def _check(store: RegistryStore, args: argparse.Namespace, publish: bool) -> int:
    sdl = _schema_text(args)
    try:
        result, proposed = run_check(
            store, args.subgraph, sdl, url=args.url, window_days=args.window_days
        )
    except CompositionUnavailable as exc:
        print(f"cannot compose: {exc}", file=sys.stderr)
        return 2
    print(result.report())
    if not result.ok:
        if publish:
            print("not published", file=sys.stderr)
        return 1
    if publish:
        assert result.composition.supergraph is not None
        number = store.add_version(
            proposed, result.composition.supergraph, source="publish", subgraph=args.subgraph
        )
        print(f"published subgraph '{args.subgraph}' as version {number}")
    return 0


def _history(store: RegistryStore, limit: int) -> int:
    versions = store.history(limit)
    if not versions:
        print("the registry has no versions yet")
    for version in versions:
        what = f"{version.source}" + (f" {version.subgraph}" if version.subgraph else "")
        print(
            f"v{version.number}\t{version.created_at:%Y-%m-%d %H:%M:%S}Z\t{what}\t"
            f"supergraph {version.supergraph_sha256[:12]}\t{', '.join(sorted(version.subgraphs))}"
        )
    return 0


def _rollback(store: RegistryStore, number: int) -> int:
    version = store.get(number)
    if version is None:
        print(f"no version {number} in the registry", file=sys.stderr)
        return 1
    new = store.add_version(
        version.subgraphs.values(),
        version.supergraph,
        source="rollback",
        extra={"rollbackOf": number},
    )
    print(f"rolled back to version {number}'s content as version {new}")
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="crm-graph", description=__doc__.split("\n\n")[0])
    main.add_argument("--registry", help="MongoDB URL of the registry")
    main.add_argument("--database", default=os.environ.get("GATEWAY_REGISTRY_DATABASE", "registry"))
    commands = main.add_subparsers(dest="command", required=True)
    for name in ("check", "publish"):
        sub = commands.add_parser(name, help=f"{name} a subgraph schema")
        sub.add_argument("--subgraph", required=True, help="the subgraph's name, e.g. pipeline")
        sub.add_argument("--schema", help="a file with the subgraph's SDL")
        sub.add_argument("--url", help="its routing URL (default: the current one)")
        sub.add_argument(
            "--window-days",
            type=int,
            default=30,
            help="operations seen in these last days count as clients (30)",
        )
        if name == "publish":
            sub.add_argument("--introspect", help="take the SDL from this running subgraph")
            sub.add_argument("--token", help="bearer token for --introspect (default: minted)")
    history = commands.add_parser("history", help="list the versions, newest first")
    history.add_argument("--limit", type=int, default=20)
    rollback = commands.add_parser("rollback", help="serve an old version's content again")
    rollback.add_argument("version", type=int)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    url = registry_url(args.registry)
    store = RegistryStore(url, args.database)
    try:
        if args.command in ("check", "publish"):
            return _check(store, args, publish=args.command == "publish")
        if args.command == "history":
            return _history(store, args.limit)
        return _rollback(store, args.version)
    except PyMongoError as exc:
        reason = str(exc).split(", Timeout:")[0]
        print(
            f"cannot reach the registry at {redact(url)}: {reason}\n"
            "give --registry URL, GATEWAY_REGISTRY_URL or MONGODB_URL (or CRM_DEMO_DIR for a"
            " demo started with one)",
            file=sys.stderr,
        )
        return 2
    finally:
        store.close()


def run() -> None:
    sys.exit(main())
