"""Connection URLs as they may be shown: in logs, banners and error lines."""

from __future__ import annotations

from urllib.parse import urlsplit


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (user, hosts and path kept)."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
