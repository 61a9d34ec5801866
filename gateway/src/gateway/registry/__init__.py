"""The schema registry: versions of each subgraph's SDL and of the composed supergraph in a
MongoDB database of their own, the operations clients really sent, the checks a change must
pass (``crm-graph``), and the running gateway following it."""
