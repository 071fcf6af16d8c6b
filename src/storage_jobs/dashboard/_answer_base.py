"""What every JSON API answer shares: its base model, and the row of what could not be read."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Answer", "Unreadable"]


class Answer(BaseModel):
    """The base of every answer: no unknown fields, frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Unreadable(Answer):
    """Something Redis holds that could not be read (hostile, corrupt, or of the wrong type).

    Attributes:
        id: The job id (or the worker id) it belongs to.
        cause: Why it could not be read: ``WRONGTYPE``, nested too deeply, not JSON, too large...
    """

    id: str
    cause: str
