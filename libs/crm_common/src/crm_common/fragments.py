"""Fragment search terms shared by the services: folding and the grams a text is indexed by.

A fragment is found through a multikey index on a gram array: every gram of the fragment
occurs in the text, so an equality on one of them gives a superset of the matches and a
substring test on the folded text decides. Latin-script fragments use trigrams (a shorter
fragment would select too much). Chinese, Japanese and Korean text has no spaces and its
words are often two characters long (北京测试科技有限公司: 北京 / 测试 / 科技 / 有限公司), so
every pair of adjacent CJK characters is indexed too: any fragment of two or more characters
then finds the text without a collection scan.
"""

from __future__ import annotations

import unicodedata

TRIGRAM = 3
BIGRAM = 2

# The Unicode blocks whose script writes words without spaces (Han, kana, Hangul).
_CJK_RANGES = (
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0x20000, 0x2FA1F),  # CJK Extensions B.. and supplement
)


def is_cjk(ch: str) -> bool:
    code = ord(ch)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def fold_text(text: str) -> str:
    """Case- and accent-insensitive (NFKD, combining marks dropped), whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(folded.split())


def trigrams(text: str) -> set[str]:
    return {text[i : i + TRIGRAM] for i in range(len(text) - TRIGRAM + 1)}


def cjk_bigrams(text: str) -> set[str]:
    """Every pair of adjacent characters of which both are CJK."""
    return {
        text[i : i + BIGRAM]
        for i in range(len(text) - 1)
        if is_cjk(text[i]) and is_cjk(text[i + 1])
    }


def text_grams(folded: str) -> set[str]:
    """The grams a folded text is indexed by: its trigrams and its CJK bigrams."""
    return trigrams(folded) | cjk_bigrams(folded)


def fragment_grams(folded: str) -> set[str]:
    """The grams a folded fragment's texts must all have (empty: too short for the index)."""
    if len(folded) >= TRIGRAM:
        return trigrams(folded)
    return cjk_bigrams(folded)


# Characters common in names and titles: a gram made of them is likely frequent.
_COMMON = frozenset("aeinorstlu .-@0123456789")


def rarest_guess(grams: set[str]) -> str:
    """Without statistics, the gram likely to select the fewest texts: the one with the fewest
    common characters (ties: the first in order, so that the choice is stable)."""
    return min(grams, key=lambda gram: (sum(1 for ch in gram if ch in _COMMON), gram))
