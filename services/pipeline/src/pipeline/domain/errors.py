"""Rule violations raised by the domain; the service layer maps them to API error codes."""

from __future__ import annotations


class DomainError(Exception):
    """A command that breaks a business rule (bad input, not a missing thing)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidMoney(DomainError):
    pass


class InvalidPosition(DomainError):
    pass


class InvalidStage(DomainError):
    pass


class InvalidPipeline(DomainError):
    pass


class InvalidOpportunity(DomainError):
    pass


class OpportunityClosed(DomainError):
    pass
