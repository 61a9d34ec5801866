"""The CRM suite's federated GraphQL gateway: one public graph over the subgraphs.

``supergraph`` loads Apollo's composed SDL, ``planning`` turns an operation into a plan of
fetches, ``execution`` runs it and shapes the response, ``transport`` talks to subgraphs,
``app`` serves it all over HTTP.
"""
