"""Adapters: the MongoDB repository and the outbox relay to RabbitMQ."""
