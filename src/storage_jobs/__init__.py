"""storage-jobs: background S3 storage work through a Redis job queue."""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("storage-jobs")
    """The installed distribution's version (``pyproject.toml`` is its one source)."""
except PackageNotFoundError:  # a source tree on sys.path without an install
    __version__ = "0+unknown"
