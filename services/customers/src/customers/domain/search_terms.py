"""Search terms: what a customer is found by, as plain values (no database here).

Fragment search ("uller" finds "Anna Müller") needs a substring test, which no index answers
directly; MongoDB's ``$text`` would not do it either (and the stand-in has none). So every
searchable text is cut into trigrams (each run of three characters of its folded form), stored
as one array that a multikey index covers. A fragment of three or more characters occurs in a
text only if each of its trigrams does, so ONE of them, looked up by equality in the index,
gives a superset of the matches; a substring test on the folded text then decides. The rarest
trigram gives the fewest candidates, so the caller picks it from a sample of documents when
one is at hand (see ``pick_gram``).

A name's CJK text is also cut into bigrams (``crm_common.fragments``): its words are often
two characters long, and any two-character fragment of it finds it the same way.

The three texts share the array, each gram prefixed by where it comes from (``n:`` name,
``e:`` an e-mail, ``p:`` the digits of a phone), so one index serves all three.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import phonenumbers

from crm_common.fragments import cjk_bigrams
from customers.domain.model import Customer
from customers.domain.values import fold, phone_digits, words

GRAM = 3
NAME, EMAIL, PHONE = "n:", "e:", "p:"
# Bumped whenever the stored search fields change shape: documents of an older version (or
# none) are rewritten by the backfill.
SEARCH_VERSION = 3  # 3: CJK bigrams of the name
# One customer in SAMPLE_RATE (chosen by a hash of its id, so never changing) is a sample:
# cheap to read all together (a sparse index), it tells how common a trigram is and where
# the sort keys fall, without reading the collection.
SAMPLE_RATE = 512
# Characters common in names and addresses: a gram made of them is likely frequent (the
# tie-break when no sample tells).
_COMMON = frozenset("aeinorstlu .-@0123456789")


def fold_text(text: str) -> str:
    """Folded (case and accents ignored) with whitespace collapsed to one space."""
    return " ".join(fold(text).split())


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def grams(text: str) -> set[str]:
    return {text[i : i + GRAM] for i in range(len(text) - GRAM + 1)}


def customer_grams(name: str, emails: Iterable[str], phone_digits: Iterable[str]) -> list[str]:
    """The stored gram array of a customer (sorted, so that equal inputs store equally)."""
    folded_name = fold_text(name)
    # Chinese, Japanese and Korean words are often two characters: their pairs are indexed too
    # (a bigram and a trigram never collide, being of different lengths).
    found = {NAME + gram for gram in grams(folded_name) | cjk_bigrams(folded_name)}
    for email in emails:
        found |= {EMAIL + gram for gram in grams(fold_text(email))}
    for number in phone_digits:
        found |= {PHONE + gram for gram in grams(number)}
    return sorted(found)


def fragment_grams(prefix: str, fragment: str) -> list[str]:
    """The grams a (normalised) fragment must all have; empty when it is too short."""
    return sorted(prefix + gram for gram in grams(fragment))


def pick_gram(candidates: Iterable[str], frequencies: Mapping[str, int]) -> str:
    """The gram expected to select the fewest documents: the one least seen in the sample,
    then the one with the fewest common characters."""

    def cost(gram: str) -> tuple[int, int, str]:
        common = sum(1 for ch in gram[2:] if ch in _COMMON)
        return frequencies.get(gram, 0), common, gram

    return min(candidates, key=cost)


def is_sample(customer_id: str) -> bool:
    digest = hashlib.blake2b(customer_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % SAMPLE_RATE == 0


def search_tokens(customer: Customer) -> list[str]:
    """What ``search`` matches by prefix: the folded words of the name, every e-mail (whole,
    local part, domain and its labels) and every phone (international and national digits)."""
    tokens: list[str] = list(words(customer.name))
    for email in customer.emails:
        local, _, domain = email.partition("@")
        tokens += [email, local, domain, *domain.split(".")]
    for phone in customer.phones:
        digits = phone_digits(phone)
        tokens.append(digits)
        try:
            parsed = phonenumbers.parse(phone.split(" ext. ")[0], None)
            tokens.append(str(parsed.national_number))
            national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
            tokens.append("".join(ch for ch in national if ch.isdigit()))  # with a trunk 0
        except phonenumbers.NumberParseException:
            pass
    if customer.external_id:
        tokens.append(fold(customer.external_id))
    return list(dict.fromkeys(token for token in tokens if token))


def name_similarity(a: str, b: str) -> float:
    """0..1: how alike two names are once folded (word-set and character based)."""
    from difflib import SequenceMatcher

    words_a, words_b = set(words(a)), set(words(b))
    if not words_a or not words_b:
        return 0.0
    jaccard = len(words_a & words_b) / len(words_a | words_b)
    ratio = SequenceMatcher(None, " ".join(sorted(words_a)), " ".join(sorted(words_b))).ratio()
    return max(jaccard, ratio)
