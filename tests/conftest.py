"""Shared pytest configuration; fixtures live in plugin modules listed below."""

pytest_plugins = [
    "tests.fixtures_redis",  # first: fixtures_e2e imports it
    "tests.fixtures_devstack",
    "tests.fixtures_e2e",
    "tests.fixtures_moto",
]
