"""``python -m storage_jobs`` is the ``storage-jobs`` command."""

from .cli import main

main()
