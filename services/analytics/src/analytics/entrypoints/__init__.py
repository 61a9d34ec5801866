"""Composition roots: the GraphQL API (``main``/``app``) and the event worker (``worker``)."""
