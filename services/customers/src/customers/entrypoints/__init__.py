"""Entry points: the Strawberry schema, the Starlette app and the process runner."""
