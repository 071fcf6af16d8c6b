"""Settings: every knob, read once from ``STORAGE_JOBS_*`` environment variables."""

from ._dashboard_fields import MIN_TOKEN_LENGTH
from ._migration_fields import SourceProfile
from ._redaction import redact_url
from ._settings import Settings

__all__ = ["MIN_TOKEN_LENGTH", "Settings", "SourceProfile", "redact_url"]
