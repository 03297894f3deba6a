"""Errors every engine raises in the same shape, so the app and the commands never import a driver's
or an engine package's exception types."""

from __future__ import annotations


class ConnectError(RuntimeError):
    """The target cannot be monitored; str() is one line for the operator. `password_refused`
    says the server refused (or asked for) a password, for callers that know where it came from;
    `server_answered` that a server answered and refused (a wrong password, no free slot, starting
    up), as opposed to nothing answering at all (refused, timed out, no such host)."""

    def __init__(self, message: str, password_refused: bool = False, server_answered: bool = False):
        super().__init__(message)
        self.password_refused = password_refused
        self.server_answered = server_answered or password_refused


class EngineUnavailable(ConnectError):
    """The target's engine is not one this installation of dbtop can monitor."""


class OperationFailed(RuntimeError):
    """An operation the operator asked for (installing the refresh log, …) failed and changed nothing;
    str() is one line saying why and what to do."""


class ActionRefused(RuntimeError):
    """An action the engine will not plan or run as asked; str() is one line for the operator."""


class UnknownAction(ActionRefused):
    """No action of that name exists for the target's engine."""


class ActionFailed(OperationFailed):
    """An action ran and did not achieve what it set out to (a dump that failed, a backup that did not
    verify, an index build that failed), and it has already done what it could about it (removed the
    partial file, dropped the INVALID index …): `detail` says so for the operator and the journal,
    `error` is the cause in one line."""

    def __init__(self, detail: str, error: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.error = error
