"""Entry points: the GraphQL schema, the Starlette app, the relay process."""
