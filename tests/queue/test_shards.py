"""Shard tags spread a queue over a cluster's masters; a job's shard is a stable hash of its id."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from typing import Any, cast

import pytest
import redis

from storage_jobs.devstack.redis_cluster import RedisCluster
from storage_jobs.queue._shards import (
    MAX_SHARDS,
    SlotRange,
    shard_nodes,
    shard_of,
    shard_tags,
    slot_of_tag,
    slot_ranges,
)

SLOTS = 16384
NAMES = [f"queue-{n}" for n in range(300)] + ["default", "storage-jobs", "uploads", "q"]


def redis_cli_ranges(masters: int) -> list[SlotRange]:
    """The slots each master gets from ``redis-cli --cluster create`` (its C code, in Python)."""
    per_node = SLOTS / masters
    ranges, first, cursor = [], 0, 0.0
    for index in range(masters):
        last = math.floor(cursor + per_node - 1 + 0.5)  # C's lround: halves away from zero
        if last > SLOTS or index == masters - 1:
            last = SLOTS - 1
        ranges.append(SlotRange(first, max(last, first), "127.0.0.1", 7000 + index))
        first, cursor = last + 1, cursor + per_node
    return ranges


def masters_of(tags: tuple[str, ...] | list[str], masters: int) -> list[int]:
    ranges = redis_cli_ranges(masters)
    return [r.port if r else -1 for r in shard_nodes(tags, ranges)]


def test_the_redis_cli_split_is_modelled_right() -> None:
    """The model of redis-cli's split matches what a real 3-master cluster reports."""
    assert [(r.start, r.end) for r in redis_cli_ranges(3)] == [
        (0, 5460),
        (5461, 10922),
        (10923, 16383),
    ]


@pytest.mark.parametrize("masters", [3, 4, 5, 6, 7, 8, 10, 12, 16])
def test_as_many_shards_as_masters_put_one_shard_on_each_master(masters: int) -> None:
    """N == M: every master holds exactly one shard, for every queue name."""
    for name in NAMES:
        assert sorted(masters_of(shard_tags(name, masters), masters)) == [
            7000 + i for i in range(masters)
        ], name


@pytest.mark.parametrize(("shards", "masters"), [(6, 3), (9, 3), (8, 4), (32, 16)])
def test_a_multiple_of_the_masters_puts_as_many_shards_on_each(shards: int, masters: int) -> None:
    """N == k * M: every master holds exactly k shards."""
    for name in NAMES:
        counts = Counter(masters_of(shard_tags(name, shards), masters))
        assert set(counts.values()) == {shards // masters}, name
        assert len(counts) == masters, name


def test_naive_tags_land_two_shards_on_one_master_often() -> None:
    """What the chosen tags fix: naive ``{q:0}``, ``{q:1}``, ``{q:2}`` share a master often.

    About half the time on 3 masters (CRC16 is linear, so suffixes are not random; ``{0:q}``...
    collide 80-90 % of the time, random slots 7 in 9).
    """
    collided = sum(len(set(masters_of([f"{name}:{i}" for i in range(3)], 3))) < 3 for name in NAMES)
    assert 0.4 < collided / len(NAMES) < 0.7


def test_tags_and_placement_never_change() -> None:
    """Pinned: a change would strand every queued job of a sharded queue."""
    assert shard_tags("default", 1) == ("default",)
    assert shard_tags("default", 3) == ("default:0:3", "default:1:23", "default:2")
    assert [slot_of_tag(tag) for tag in shard_tags("default", 3)] == [3709, 8059, 14845]
    assert [shard_of(f"job-{i}", 3) for i in range(8)] == [0, 1, 2, 0, 1, 2, 2, 1]
    assert shard_tags("default", 3) == shard_tags("default", 3)


@pytest.mark.parametrize("shards", [2, 3, 4, 7])
def test_job_ids_spread_evenly_over_the_shards(shards: int) -> None:
    """Sequential ids and random ids alike: each shard within 5 % of its share."""
    for ids in (
        [f"job-{i}" for i in range(30_000)],
        [uuid.UUID(int=i * 7919 + 1).hex for i in range(30_000)],
    ):
        counts = Counter(shard_of(job_id, shards) for job_id in ids)
        share = len(ids) / shards
        assert sorted(counts) == list(range(shards))
        assert all(abs(n - share) < 0.05 * share for n in counts.values()), counts


@pytest.mark.parametrize(("queue", "count"), [("q", 0), ("q", MAX_SHARDS + 1), ("a}b", 3)])
def test_bad_layouts_are_refused(queue: str, count: int) -> None:
    """A count out of range, or a brace that would cut the hash tag short."""
    with pytest.raises(ValueError, match="shard"):
        shard_tags(queue, count)


def test_slot_ranges_read_raw_and_parsed_cluster_slots() -> None:
    """Both shapes give the same sorted ranges; a slot nobody serves maps to None."""
    raw = [
        [5461, 10922, [b"10.0.0.2", 6380, b"id2"], [b"10.0.0.5", 6383, b"id5"]],
        [0, 5460, [b"10.0.0.1", 6379, b"id1"]],
    ]
    parsed = {
        (5461, 10922): {"primary": ("10.0.0.2", 6380), "replicas": [("10.0.0.5", 6383)]},
        (0, 5460): {"primary": ("10.0.0.1", 6379), "replicas": []},
    }
    expected = [SlotRange(0, 5460, "10.0.0.1", 6379), SlotRange(5461, 10922, "10.0.0.2", 6380)]
    assert slot_ranges(raw) == slot_ranges(parsed) == expected
    tags = shard_tags("default", 3)  # slots 3709, 8059, 14845
    assert [r.address if r else None for r in shard_nodes(tags, expected)] == [
        "10.0.0.1:6379",
        "10.0.0.2:6380",
        None,
    ]


@pytest.mark.integration
def test_three_shards_live_on_three_masters_of_a_real_cluster(redis_cluster: RedisCluster) -> None:
    """The cluster's own answer puts the 3 shards on 3 masters, and each key lives there."""
    client = redis.Redis(port=redis_cluster.ports[0])
    ranges = slot_ranges(cast("list[Any]", client.cluster("SLOTS")))
    client.close()
    tags = shard_tags("test-shards", 3)
    nodes = shard_nodes(tags, ranges)
    assert all(nodes) and len({node.port for node in nodes if node}) == 3
    for tag, node in zip(tags, nodes, strict=True):
        assert node is not None
        master = redis.Redis(host=node.host, port=node.port)
        # A plain client raises MOVED for a key of another master: this one is served here.
        master.set(f"storage-jobs:{{{tag}}}:probe", 1, ex=60)
        master.close()
