"""Adapters: MongoDB repositories, the outbox relay, RabbitMQ consumers."""
