# ruff: noqa: E501  (canned data and SDL read best on one line)
"""One process serving every subgraph of the differential corpus: ``POST /<corpus>/<subgraph>``.

Each subgraph's executable schema is its SDL plus the federation machinery a subgraph library
adds (``_Any``, ``_Entity``, ``_entities``, ``_service``), executed by graphql-core over the
canned data of ``model.Subgraph``.

    python -m corpus.server PORT    (from tests/gateway)
"""

from __future__ import annotations

import re
import sys
from typing import Any

import orjson
import uvicorn
from graphql import (
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    ObjectTypeDefinitionNode,
    build_ast_schema,
    graphql,
    parse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from corpus.cases import CORPORA
from corpus.model import Subgraph

_MACHINERY = """
scalar _Any
scalar FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
directive @link(url: String!, as: String, import: [link__Import], for: link__Purpose) repeatable on SCHEMA
directive @key(fields: FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @requires(fields: FieldSet!) on FIELD_DEFINITION
directive @provides(fields: FieldSet!) on FIELD_DEFINITION
directive @external(reason: String) on OBJECT | FIELD_DEFINITION
directive @shareable repeatable on OBJECT | FIELD_DEFINITION
directive @override(from: String!, label: String) on FIELD_DEFINITION
directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION
directive @interfaceObject on OBJECT
directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION
type _Service { sdl: String }
"""


def _executable_schema(subgraph: Subgraph) -> GraphQLSchema:
    document = parse(subgraph.sdl)
    entities = [
        d.name.value
        for d in document.definitions
        if isinstance(d, ObjectTypeDefinitionNode)
        and any(x.name.value == "key" for x in d.directives or ())
    ]
    has_query = bool(re.search(r"^\s*type\s+Query\b", subgraph.sdl, re.M))
    root = "extend type Query" if has_query else "type Query"
    extra = _MACHINERY + f"{root} {{ _service: _Service!"
    if entities:
        extra += " _entities(representations: [_Any!]!): [_Entity]!"
        extra = f"union _Entity = {' | '.join(entities)}\n" + extra
    extra += " }\n"
    return build_ast_schema(parse(subgraph.sdl + "\n" + extra))


def _matches(record: dict[str, Any], probe: dict[str, Any]) -> bool:
    shared = [k for k in probe if k != "__typename" and k in record]
    return bool(shared) and all(_same(record[k], probe[k]) for k in shared)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return all(_same(a.get(k), v) for k, v in b.items() if k != "__typename")
    return bool(a == b)


class _Runtime:
    def __init__(self, subgraph: Subgraph) -> None:
        self.subgraph = subgraph
        self.schema = _executable_schema(subgraph)

    def complete(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.complete(v) for v in value]
        if isinstance(value, dict) and "__typename" in value:
            for record in self.subgraph.entities.get(value["__typename"], ()):
                if _matches(record, value):
                    return {**value, **record}
        return value

    def resolve(self, parent: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        type_name = info.parent_type.name
        name = info.field_name
        if type_name == "Query" and name == "_entities":
            out = []
            for rep in args["representations"]:
                found = None
                for record in self.subgraph.entities.get(rep["__typename"], ()):
                    if _matches(record, rep):
                        found = {"__typename": rep["__typename"], **rep, **record}
                        break
                out.append(found)
            return out
        if type_name == "Query" and name == "_service":
            return {"sdl": self.subgraph.composed_sdl}
        fn = self.subgraph.resolvers.get(f"{type_name}.{name}")
        if parent is None:
            parent = self.subgraph.root
        if fn is not None:
            return self.complete(fn(parent, **args))
        if isinstance(parent, dict):
            return self.complete(parent.get(name))
        return None


def _type_of(value: Any, info: GraphQLResolveInfo, abstract: Any) -> Any:
    return value.get("__typename") if isinstance(value, dict) else None


RUNTIMES = {
    (corpus.name, subgraph.name): _Runtime(subgraph)
    for corpus in CORPORA
    for subgraph in corpus.subgraphs
}


async def endpoint(request: Request) -> Response:
    runtime = RUNTIMES.get((request.path_params["corpus"], request.path_params["subgraph"]))
    if runtime is None:
        return Response("no such subgraph", status_code=404)
    if runtime.subgraph.down:
        return Response("subgraph is down", status_code=500)
    body = orjson.loads(await request.body())
    result = await graphql(
        runtime.schema,
        body["query"],
        root_value=None,
        variable_values=body.get("variables"),
        operation_name=body.get("operationName"),
        field_resolver=runtime.resolve,
        type_resolver=_type_of,
    )
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [_formatted(e) for e in result.errors]
    return Response(orjson.dumps(payload), media_type="application/json")


def _formatted(error: GraphQLError) -> dict[str, Any]:
    formatted = dict(error.formatted)
    original = error.original_error
    code = getattr(original, "code", None)
    if code:
        formatted["extensions"] = {"code": code}
    return formatted


app = Starlette(routes=[Route("/{corpus}/{subgraph}", endpoint, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
