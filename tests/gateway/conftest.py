"""Fixtures of the gateway tests.

``fixture_supergraph`` is the supergraph composed (by tools/composition) from the two test
subgraphs in ``fixtures/``; ``gateway_stack`` runs those subgraphs and the gateway as real
uvicorn processes on free ports, once per session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gateway_stack import SUPERGRAPH_PATH, GatewayStack, running_gateway_stack

from gateway.supergraph import Supergraph, load_supergraph_file


@pytest.fixture(scope="session")
def fixture_supergraph() -> Supergraph:
    return load_supergraph_file(SUPERGRAPH_PATH)


@pytest.fixture(scope="session")
def gateway_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayStack]:
    with running_gateway_stack(tmp_path_factory.mktemp("gateway-stack")) as running:
        yield running


@pytest.fixture
def stack(gateway_stack: GatewayStack) -> GatewayStack:
    """The running stack, with the subgraphs' request logs emptied for this test."""
    gateway_stack.reset_logs()
    return gateway_stack
