"""The end-to-end tests' own fixtures: the session's headless Chromium (support/browser.py)."""

from support.browser import chromium

__all__ = ["chromium"]
