"""The differential corpus of the gateway (see test_gateway_differential.py).

- ``model``: a corpus is a few subgraphs (Federation 2 SDL, canned data, a few resolvers)
  and the queries both gateways must answer alike;
- ``cases_federation`` / ``cases_operations``: the corpora, one or more per feature of the
  issue (keys, @requires, @provides, @shareable, @override, abstract types, @interfaceObject,
  value types, differing enums/inputs, @inaccessible; mutations, variables, fragments,
  aliases, @skip/@include, __typename, introspection, null bubbling, partial data, error
  paths, dependent and parallel fetches);
- ``server``: one process serving every subgraph of every corpus (graphql-core);
- ``harness``: starts it and tools/federation-peers/apollo_host.mjs (one Node process that
  composes each corpus with @apollo/composition and hosts an @apollo/gateway per corpus);
- ``plans/``: the reviewed plan snapshots, with Apollo's fetch count for each query.
"""
