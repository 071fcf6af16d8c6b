"""storage-jobs: background S3 storage work through a Redis job queue."""

__all__ = ["__version__"]

__version__ = "0.1.0"
