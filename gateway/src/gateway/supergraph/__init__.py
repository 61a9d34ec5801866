"""The supergraph: loading Apollo's composed SDL, the ownership model, the API schema."""

from gateway.supergraph.loader import SupergraphError, load_supergraph, load_supergraph_file
from gateway.supergraph.model import EntityKey, FieldSource, Graph, Supergraph, TypeOwnership

__all__ = [
    "EntityKey",
    "FieldSource",
    "Graph",
    "Supergraph",
    "SupergraphError",
    "TypeOwnership",
    "load_supergraph",
    "load_supergraph_file",
]
