"""``storage-jobs move``: ``migrate`` that deletes each source once its copy is proven."""

from __future__ import annotations

from typing import Any

import click

from ._migrate_cmd import migrate

__all__ = ["move"]


def _move(source: str, destination: str, **options: Any) -> None:
    assert migrate.callback is not None  # a click command always has one
    migrate.callback(source, destination, delete_source=True, all_versions=False, **options)


move = click.Command(
    "move",
    callback=_move,
    # migrate's options, so the two never drift apart; a move of every version is refused.
    params=[param for param in migrate.params if param.name != "all_versions"],
    help="""Move every object under SRC_BUCKET/PREFIX to DST_BUCKET/PREFIX (key suffix kept).

    Each source object is deleted only after its copy is proven (size and a server checksum or
    MD5 ETag, else read back) and while it is still the object copied; a failed or mismatched
    copy keeps its source. On a versioned source bucket the delete writes a delete marker
    (every version stays). Report lines say `moved`. Options as `storage-jobs migrate`.
    """,
)
