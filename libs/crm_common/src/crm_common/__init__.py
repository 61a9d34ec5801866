"""What every process of the CRM suite shares, and nothing more.

Settings base, JSON logging, the CloudEvent envelope, identity verification, error codes,
health and metrics endpoints, and the instrumented MongoDB and RabbitMQ connections.
"""
