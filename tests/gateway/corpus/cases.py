"""Every corpus of the differential tests."""

from corpus import (
    cases_federation,
    cases_field_types,
    cases_interface_objects,
    cases_keyless,
    cases_keys,
    cases_operations,
    cases_provides,
    cases_requires,
    cases_values,
)

CORPORA = [
    *cases_federation.CORPORA,
    *cases_operations.CORPORA,
    *cases_requires.CORPORA,
    *cases_provides.CORPORA,
    *cases_values.CORPORA,
    *cases_keyless.CORPORA,
    *cases_keys.CORPORA,
    *cases_interface_objects.CORPORA,
    *cases_field_types.CORPORA,
]
