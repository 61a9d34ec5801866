"""Every corpus of the differential tests."""

from corpus import cases_federation, cases_operations

CORPORA = [*cases_federation.CORPORA, *cases_operations.CORPORA]
