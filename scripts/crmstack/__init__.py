"""The one launcher of the suite's processes and infrastructure, used by ``make demo``
(scripts/devstack.py), the test session (tests/conftest.py), the per-service test kits and the
benchmarks: find or start RabbitMQ and MongoDB, start processes, wait for them, stop them."""
