"""Per-request work botocore does that the client can safely skip (measured in bench/README.md).

- **Endpoint resolution.** botocore runs S3's endpoint ruleset (about 60 rule functions) for
  every request, behind an LRU cache keyed on every ruleset parameter, ``Key`` included: each
  new key misses. The ruleset's rules never read ``Key``, ``Prefix`` or ``CopySource`` (checked
  on the loaded ruleset, not assumed), so those are dropped before the lookup and a bucket's
  requests share one resolution.
- **User agent.** botocore builds its User-Agent twice per request from about fifteen
  sanitized components; a fixed string set in the client config is used as is.
"""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import aiobotocore

__all__ = ["UnreadParamsProvider", "skip_unread_endpoint_params", "user_agent"]


def user_agent() -> str:
    """The fixed User-Agent of every request: this library, the SDK and Python versions.

    botocore appends its own ``botocore/<version>`` (the session's user agent extra).
    """
    try:
        ours = version("storage-jobs")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        ours = "dev"
    sdk = f"aiobotocore/{aiobotocore.__version__}"
    return f"storage-jobs/{ours} {sdk} Python/{platform.python_version()}"


def unread_params(ruleset: dict[str, Any]) -> frozenset[str]:
    """Parameters of an endpoint ruleset that none of its rules refers to."""
    rules = json.dumps(ruleset.get("rules", []))
    return frozenset(
        name
        for name in ruleset.get("parameters", {})
        # A rule reads a parameter as {"ref": "Name"} or inside a template, "{Name}".
        if f'"ref": "{name}"' not in rules and "{" + name not in rules
    )


class UnreadParamsProvider:
    """botocore's EndpointProvider, called without the parameters its rules never read."""

    def __init__(self, inner: Any, unread: frozenset[str]) -> None:
        self._inner = inner
        self.unread = unread

    def resolve_endpoint(self, **params: Any) -> Any:
        """The inner provider's (cached) answer for the parameters that matter."""
        for name in self.unread:
            params.pop(name, None)
        return self._inner.resolve_endpoint(**params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def skip_unread_endpoint_params(client: Any) -> bool:
    """Installs ``UnreadParamsProvider`` on a client; False if botocore's internals differ."""
    resolver: Any = getattr(client, "_ruleset_resolver", None)
    provider = getattr(resolver, "_provider", None)
    loader = getattr(client, "_loader", None)
    if provider is None or loader is None or not hasattr(provider, "resolve_endpoint"):
        return False
    model = client.meta.service_model
    # The same ruleset botocore loaded for this client (loader results are cached).
    ruleset = loader.load_service_model(
        model.service_name, "endpoint-rule-set-1", api_version=model.api_version
    )
    unread = unread_params(ruleset)
    if unread:
        resolver._provider = UnreadParamsProvider(provider, unread)
    return bool(unread)
