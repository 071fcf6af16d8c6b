"""The exit codes every command shares (documented in docs/deployment.md, "Operator commands")."""

from __future__ import annotations

__all__ = ["EXIT_FAILED", "EXIT_NOT_READY", "EXIT_OK", "EXIT_REDIS", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_FAILED = 1
"""The job failed, the check failed, or some of the items could not be handled."""
EXIT_USAGE = 2
"""Bad arguments or configuration (click's own code for usage errors); nothing was changed."""
EXIT_NOT_READY = 3
"""The job has not finished (yet), or there is no such job / dead letter."""
EXIT_REDIS = 4
"""Redis could not be reached (or answered with an error)."""
