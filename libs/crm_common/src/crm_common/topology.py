"""The suite's durable RabbitMQ topology, declared the same way by consumers and publishers.

RabbitMQ drops a message that reaches an exchange with no bound queue. A consumer that starts
after the first publish (the analytics worker in docker-compose, a consumer restarted on a new
broker) would lose those events for ever, so every publisher declares the durable queues and
bindings of every consumer of the suite before its first publish. Declarations are idempotent
and use the same arguments everywhere, so whoever comes first creates the queue and the others
find it unchanged.

Every queue name carries the installation's name (``CRM_INSTANCE``): two installations sharing a
broker (and, with a virtual host of their own, never even sharing an exchange) cannot consume
each other's messages.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The CRM_INSTANCE of an installation that does not name itself.
DEFAULT_INSTANCE = "crm"


@dataclass(frozen=True)
class ConsumerQueue:
    """One consumer's durable queue: its name without the instance prefix, and its bindings."""

    base_name: str
    routing_keys: tuple[str, ...]

    def name(self, instance: str) -> str:
        return queue_name(instance, self.base_name)


def queue_name(instance: str, base_name: str) -> str:
    return f"{instance}.{base_name}"


#: Analytics stores every opportunity and customer event: the reports fold the former, the
#: audit trail and the lead counts of the source reports read both.
ANALYTICS_EVENTS = ConsumerQueue(
    "analytics.events",
    ("pipeline.opportunity.#", "customers.customer.*", "customers.ownership.*"),
)
CUSTOMERS_PIPELINE_EVENTS = ConsumerQueue(
    "customers.pipeline-events", ("pipeline.opportunity.*", "pipeline.quote.created")
)
PIPELINE_CUSTOMER_EVENTS = ConsumerQueue(
    "pipeline.customer-events", ("customers.customer.*", "customers.ownership.*")
)

#: Every durable consumer queue of the suite; publishers declare all of them.
CONSUMER_QUEUES: tuple[ConsumerQueue, ...] = (
    ANALYTICS_EVENTS,
    CUSTOMERS_PIPELINE_EVENTS,
    PIPELINE_CUSTOMER_EVENTS,
)
