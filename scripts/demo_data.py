"""The small demo data set ``make demo`` seeds through the gateway: customers of both kinds
from several lead sources, and deals spread across every stage, some won and some lost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devstack import graphql

CUSTOMERS = [
    ("COMPANY", "Acme Industrial GmbH", "info@acme-industrial.example", "rep-1", "webinar"),
    ("COMPANY", "Borealis Logistics", "hello@borealis.example", "rep-1", "trade-show"),
    ("COMPANY", "Cygnus Health", "contact@cygnus.example", "rep-2", "google-ads"),
    ("PERSON", "Dana Whitfield", "dana.whitfield@example.com", "rep-2", "referral"),
    ("COMPANY", "Estrella Foods", "ventas@estrella.example", "rep-1", "newsletter"),
    ("PERSON", "Farid Haddad", "farid.haddad@example.com", "rep-2", "webinar"),
]

# (customer index, title, amount, currency, stages to walk through after the first one)
DEALS = [
    (0, "Acme: 40 seat licences", "48000.00", "EUR", ["Needs analysis", "Proposal"]),
    (0, "Acme: support renewal", "12000.00", "EUR", []),
    (1, "Borealis: fleet tracking pilot", "25000.00", "EUR", ["Needs analysis"]),
    (
        1,
        "Borealis: onboarding package",
        "6000.00",
        "EUR",
        ["Needs analysis", "Proposal", "Negotiation", "Won"],
    ),
    (2, "Cygnus: clinic rollout", "90000.00", "USD", ["Needs analysis", "Proposal", "Negotiation"]),
    (2, "Cygnus: data migration", "15000.00", "USD", ["Needs analysis", "Lost"]),
    (3, "Dana: consulting day", "1500.00", "EUR", ["Proposal", "Won"]),
    (4, "Estrella: e-commerce integration", "32000.00", "EUR", ["Needs analysis", "Proposal"]),
    (5, "Farid: training bundle", "2400.00", "EUR", ["Needs analysis", "Lost"]),
]

CREATE_CUSTOMER = (
    """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id } }"""
)
CREATE_DEAL = (
    """mutation($input: CreateOpportunityInput!) { createOpportunity(input: $input) { id } }"""
)
MOVE = (
    """mutation($id: ID!, $stageId: ID!) { moveOpportunity(id: $id, stageId: $stageId) { id } }"""
)


def seed(gateway_url: str, admin_token: str, make_token: Callable[..., str]) -> str:
    def call(query: str, variables: dict[str, Any]) -> Any:
        return graphql(gateway_url, admin_token, query, variables)

    existing = call("{ customers(first: 1) { totalCount } }", {})["customers"]["totalCount"]
    if existing:
        return f"Kept the {existing} customers already stored (demo data is seeded once)."
    pipelines = call("{ pipelines { id name stages { id name } } }", {})["pipelines"]
    stage_ids = {stage["name"]: stage["id"] for stage in pipelines[0]["stages"]}
    customer_ids = []
    for kind, name, email, owner, campaign in CUSTOMERS:
        source = {"channel": "marketing", "campaign": campaign}
        customer = call(
            CREATE_CUSTOMER,
            {
                "input": {
                    "kind": kind,
                    "name": name,
                    "email": email,
                    "ownerId": owner,
                    "source": source,
                }
            },
        )
        customer_ids.append(customer["createCustomer"]["id"])
    for customer_index, title, amount, currency, path in DEALS:
        deal = call(
            CREATE_DEAL,
            {
                "input": {
                    "title": title,
                    "customerId": customer_ids[customer_index],
                    "amount": {"amount": amount, "currency": currency},
                    "ownerId": CUSTOMERS[customer_index][3],
                }
            },
        )
        for stage in path:
            call(MOVE, {"id": deal["createOpportunity"]["id"], "stageId": stage_ids[stage]})
    return f"Seeded {len(CUSTOMERS)} customers and {len(DEALS)} deals."
