"""The dashboard's settings."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

__all__ = ["MIN_TOKEN_LENGTH", "DashboardFields"]

MIN_TOKEN_LENGTH = 16
"""Characters a dashboard or producer token needs at least."""


class DashboardFields(BaseModel):
    """``Settings``' fields for the dashboard."""

    # The dashboard
    dashboard_token: SecretStr | None = Field(
        default=None,
        description="Dashboard login and bearer token, 16+ characters; required to listen on "
        "an address other than loopback.",
    )
    dashboard_actions: bool = Field(
        default=False,
        description="Let the dashboard act: replay and drop dead letters, cancel jobs, pause, "
        "resume and cancel prefix jobs, pause and resume the queue.",
    )
    # Host names it is served under, beside loopback ("*": any, for a mount that checks Host).
    dashboard_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="`jobs.example.com,...`: Host names the dashboard answers under, beside "
        "loopback names and `--host` (`*`: any, for a mount whose host app checks Host).",
    )
    # Signs session cookies (default: a random secret generated once and kept in Redis).
    dashboard_secret: SecretStr | None = Field(
        default=None,
        description="Signs session cookies (unset: a random secret generated once and kept "
        "in Redis; never derived from the token).",
    )
    # Proxies (addresses or networks) whose X-Forwarded-Proto/-For the dashboard believes.
    dashboard_trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="`10.0.0.0/8,...`: proxies whose `X-Forwarded-Proto` / `-For` the "
        "dashboard believes (`Secure` cookies behind TLS, the client's address).",
    )

    @field_validator("dashboard_token")
    @classmethod
    def _token_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        # A short token falls to guessing; empty means none (an open, loopback-only dashboard).
        if value is not None and 0 < len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"STORAGE_JOBS_DASHBOARD_TOKEN must be at least {MIN_TOKEN_LENGTH} characters "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value
