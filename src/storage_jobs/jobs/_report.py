"""One line of a prefix job's JSON Lines completion report: the shape writers and readers share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ReportLine", "report_line"]


class ReportLine(BaseModel):
    """One key's outcome in a completion report.

    Attributes:
        bucket: The bucket of ``key`` (the destination's, for migrations).
        key: The key (the destination key, for migrations).
        status: ``copied``, ``verified``, ``skipped``, ``deleted``, ``failed``, ``mismatch``,
            ``filtered``, ``rejected``, ``would_copy``, ...
        error_code: The S3 error code of a failure.
        message: What went wrong.
        src_key: The source key a migrated object came from.
        size: The object's size, where known.
        src_version_id: The source version a copy came from (``all_versions``).
        version_id: The version the copy created, or the version deleted.
        lost: What a copy could not keep of its source, each ``attribute: why``.
    """

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    status: str
    error_code: str | None = None
    message: str = ""
    src_key: str | None = None
    size: int | None = None
    src_version_id: str | None = None
    version_id: str | None = None
    lost: list[str] | None = None


_OPTIONAL = ("src_key", "size", "src_version_id", "version_id", "lost")


def report_line(
    bucket: str,
    key: str,
    status: str,
    code: str | None = None,
    message: str = "",
    *,
    src_key: str | None = None,
    size: int | None = None,
    src_version_id: str | None = None,
    version_id: str | None = None,
    lost: list[str] | None = None,
) -> str:
    """One report line as JSON (without its newline); absent optional fields are left out."""
    line = ReportLine(
        bucket=bucket,
        key=key,
        status=status,
        error_code=code,
        message=message,
        src_key=src_key,
        size=size,
        src_version_id=src_version_id,
        version_id=version_id,
        lost=lost or None,
    )
    return line.model_dump_json(exclude={n for n in _OPTIONAL if getattr(line, n) is None})
