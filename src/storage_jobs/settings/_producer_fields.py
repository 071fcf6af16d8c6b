"""The HTTP enqueue API's settings: its producers and their tokens."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, field_validator

from ._dashboard_fields import MIN_TOKEN_LENGTH

__all__ = ["PRODUCER_NAME", "ProducerFields"]

PRODUCER_NAME = r"^[A-Za-z0-9_.-]{1,64}$"
"""A producer's name (it is logged with what it enqueues)."""


class ProducerFields(BaseModel):
    """``Settings``' fields for the HTTP enqueue API."""

    # The HTTP enqueue API (served with the dashboard): producer name -> bearer token; none: off
    producer_tokens: dict[Annotated[str, Field(pattern=PRODUCER_NAME)], SecretStr] = Field(
        default_factory=dict,
        description="JSON: producer name -> bearer token (16+ characters) for the HTTP "
        "enqueue API; none: the API is off.",
    )

    @field_validator("producer_tokens")
    @classmethod
    def _producer_tokens_are_long(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        # Tokens are checked once per request, so a short one could be guessed online.
        if short := sorted(
            n for n, t in value.items() if len(t.get_secret_value()) < MIN_TOKEN_LENGTH
        ):
            raise ValueError(
                f"producer tokens must be at least {MIN_TOKEN_LENGTH} characters: "
                + ", ".join(short)
            )
        return value
