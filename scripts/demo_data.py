"""The small demo data set ``make demo`` seeds through the gateway: customers of both kinds
from several lead sources, and deals spread across every stage, some won and some lost.

Seeding is idempotent and completes what a failed run left half-done: each customer is known by
its e-mail and each deal by its customer and title (their stable keys), so a run creates only
what is missing and walks each deal on from the stage where it stands."""

from __future__ import annotations

import os
from typing import Any

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

CUSTOMER_BY_EMAIL = """query($email: String!) {
  customers(filter: { emailContains: $email }, first: 10) { edges { node { id email } } }
}"""
DEALS_OF = """query($customerId: ID!) {
  opportunities(filter: { customerId: $customerId }, first: 100) {
    edges { node { id title status stage { name } } }
  }
}"""
CREATE_CUSTOMER = (
    """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id } }"""
)
CREATE_DEAL = (
    """mutation($input: CreateOpportunityInput!) { createOpportunity(input: $input) { id } }"""
)
MOVE = (
    """mutation($id: ID!, $stageId: ID!) { moveOpportunity(id: $id, stageId: $stageId) { id } }"""
)
#: Test hook: stop with an error after this many deal steps, as a failed seed would.
FAIL_AFTER_ENV = "CRM_DEMO_SEED_FAIL_AFTER"


class SeedFailed(RuntimeError):
    pass


def seed(gateway_url: str, admin_token: str) -> str:
    from devstack import graphql

    fail_after = int(os.environ.get(FAIL_AFTER_ENV) or 0)
    steps = 0
    created = 0

    def call(query: str, variables: dict[str, Any]) -> Any:
        nonlocal steps
        if query in (CREATE_DEAL, MOVE):
            steps += 1
            if fail_after and steps > fail_after:
                raise SeedFailed(f"{FAIL_AFTER_ENV}={fail_after}: stopping the seed here")
        try:
            return graphql(gateway_url, admin_token, query, variables)
        except RuntimeError as exc:
            raise SeedFailed(str(exc)) from exc

    pipelines = call("{ pipelines { id name stages { id name } } }", {})["pipelines"]
    stage_ids = {stage["name"]: stage["id"] for stage in pipelines[0]["stages"]}
    first_stage = pipelines[0]["stages"][0]["name"]
    customer_ids = []
    for kind, name, email, owner, campaign in CUSTOMERS:
        found = call(CUSTOMER_BY_EMAIL, {"email": email})["customers"]["edges"]
        same = [edge["node"]["id"] for edge in found if edge["node"]["email"] == email]
        if same:
            customer_ids.append(same[0])
            continue
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
        created += 1
    for customer_index, title, amount, currency, path in DEALS:
        customer_id = customer_ids[customer_index]
        existing = {
            edge["node"]["title"]: edge["node"]
            for edge in call(DEALS_OF, {"customerId": customer_id})["opportunities"]["edges"]
        }
        deal = existing.get(title)
        if deal is None:
            deal_id = call(
                CREATE_DEAL,
                {
                    "input": {
                        "title": title,
                        "customerId": customer_id,
                        "amount": {"amount": amount, "currency": currency},
                        "ownerId": CUSTOMERS[customer_index][3],
                    }
                },
            )["createOpportunity"]["id"]
            created += 1
            walked: list[str] = []
        else:
            deal_id = deal["id"]
            route = [first_stage, *path]
            at = deal["stage"]["name"]
            # A deal someone moved off the demo's route is theirs now: leave it where it is.
            walked = route[1 : route.index(at) + 1] if at in route else list(path)
        for stage in path[len(walked) :]:
            call(MOVE, {"id": deal_id, "stageId": stage_ids[stage]})
    if not created:
        return (
            f"Kept the demo data already stored ({len(CUSTOMERS)} customers, {len(DEALS)} deals)."
        )
    return (
        f"Seeded {len(CUSTOMERS)} customers and {len(DEALS)} deals"
        f" ({created} records created by this run)."
    )
