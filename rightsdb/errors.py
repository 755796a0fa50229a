"""Domain errors: small exception classes that views turn into flashed messages or 4xx answers."""


class DomainError(Exception):
    """A user action cannot be done; the message says why, in words a user understands."""


class NotFound(DomainError):
    """The object does not exist (or is not visible to this user)."""


class Forbidden(DomainError):
    """The user may not do this."""


class Conflict(DomainError):
    """Someone else changed the object first; nothing was overwritten."""


class InvalidInput(DomainError):
    """The input breaks a rule; `problems` lists each one (field or indicator, message)."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []
