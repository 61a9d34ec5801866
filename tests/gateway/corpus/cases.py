"""Every corpus of the differential tests."""

from corpus import cases_federation, cases_operations, cases_provides, cases_requires

CORPORA = [
    *cases_federation.CORPORA,
    *cases_operations.CORPORA,
    *cases_requires.CORPORA,
    *cases_provides.CORPORA,
]
