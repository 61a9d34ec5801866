"""The one keyset cursor codec and page-size check (``crm_common.pagination``) and the
connection builder (``crm_common.relay``)."""

from __future__ import annotations

import base64

import pytest

from crm_common.errors import BadUserInput
from crm_common.pagination import KeysetCursor, Page, page_size
from crm_common.relay import PageInfo, connection

CURSORS = KeysetCursor("thing:name:asc")


def test_a_cursor_round_trips_and_is_url_safe() -> None:
    for key in (("Ada", "id-1"), ("", "id/2+?"), ("名前", "x" * 40)):
        cursor = CURSORS.encode(*key)
        assert "=" not in cursor
        assert set(cursor) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )
        assert CURSORS.decode(cursor) == key


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "!!!",
        "Zm9v",  # base64 of "foo"
        KeysetCursor("other").encode("Ada", "id-1"),  # another connection
        KeysetCursor("thing:name:desc").encode("Ada", "id-1"),  # another sort
        KeysetCursor("thing:name:asc", arity=1).encode("Ada"),  # another shape
        base64.urlsafe_b64encode(b'["thing:name:asc", {"$gt": ""}, "x"]').decode(),
    ],
)
def test_a_foreign_cursor_is_bad_input_on_after(bad: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        CURSORS.decode(bad)
    assert refused.value.details == {"field": "after"}


def test_string_keys_refuse_other_values() -> None:
    with pytest.raises(BadUserInput):
        CURSORS.decode_str(CURSORS.encode(1, "id-1"))
    assert CURSORS.decode_str(CURSORS.encode("a", "b")) == ("a", "b")


def test_page_size() -> None:
    assert page_size(None) == 20
    assert page_size(0) == 0
    assert page_size(100) == 100
    for bad in (-1, 101):
        with pytest.raises(BadUserInput, match="first: must be between 0 and 100") as refused:
            page_size(bad)
        assert refused.value.details == {"field": "first"}


def test_the_connection_builder() -> None:
    page = Page.of(["a", "b"], lambda node: f"c-{node}", has_next=True, after="c-0")
    edges, info = connection(page, lambda cursor, node: (cursor, node.upper()))
    assert edges == [("c-a", "A"), ("c-b", "B")]
    assert info == PageInfo(
        has_next_page=True, has_previous_page=True, start_cursor="c-a", end_cursor="c-b"
    )
    _, empty = connection(Page.of([], str, has_next=False, after=None), lambda c, n: n)
    assert empty == PageInfo(
        has_next_page=False, has_previous_page=False, start_cursor=None, end_cursor=None
    )
