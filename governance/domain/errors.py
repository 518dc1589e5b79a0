"""Errors. A `GovernanceError` is the user's to fix and is shown to them in plain words;
anything else is a bug, logged with a reference id."""

from __future__ import annotations


class GovernanceError(Exception):
    """A mistake a member can fix. `message` is shown as is; `usage` is the usage line."""

    def __init__(self, message: str, *, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage

    def __str__(self) -> str:
        return self.message if self.usage is None else f"{self.message}\nUsage: {self.usage}"


class NotFound(GovernanceError):
    """An id or name that names nothing."""


class NotAllowed(GovernanceError):
    """The actor's role (or authorship) does not permit the action."""


class InvalidBallot(GovernanceError):
    """A ballot that does not fit the proposal's method or options."""


class IllegalTransition(GovernanceError):
    """A lifecycle move that is not legal from the proposal's current state."""


class InvalidProposal(GovernanceError):
    """A proposal that breaks a limit or names an impossible policy."""


class ParseError(GovernanceError):
    """Text that is not a well-formed command."""


class InvalidPrompt(GovernanceError):
    """A prompt that breaks a limit or names a schedule that cannot be kept."""
