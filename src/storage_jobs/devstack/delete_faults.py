"""DeleteFaults: per-key DeleteObjects failures, taken out of the re-signed request."""

from __future__ import annotations

import base64
import hashlib
import random
import xml.etree.ElementTree as ET
import zlib
from collections import Counter

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from multidict import CIMultiDict

from .fault_rules import FaultRules
from .s3_answers import S3_NS, text_of, to_xml

__all__ = ["DeleteFaults"]


class DeleteFaults:
    """Picks the keys of each DeleteObjects request that fail, and takes them out of it.

    The upstream then deletes only the others, and the proxy adds the picked keys' errors to its
    answer. Taking keys out changes the body, so the request is re-signed: that takes the
    credentials the client signed with.

    Attributes:
        batches: Keys of every DeleteObjects request seen, in arrival order.
    """

    def __init__(
        self, stats: Counter[str], credentials: tuple[str, str] | None, region: str
    ) -> None:
        self.stats = stats
        self.credentials = credentials
        self.region = region
        self.batches: list[list[str]] = []
        self.reset(seed=0)

    def reset(self, *, seed: int) -> None:
        """Forget batches and per-key failure counts, reseed the RNG."""
        self.batches.clear()
        self._failures: Counter[str] = Counter()
        self._rng = random.Random(seed + 1)  # noqa: S311 - repeatable test faults

    def apply(
        self, rules: FaultRules, body: bytes, headers: CIMultiDict[str], raw_path: str
    ) -> tuple[bytes, dict[str, str]]:
        """Record the batch, pick failing keys and drop them from a re-signed request body."""
        self.stats["delete_requests"] += 1
        try:
            root = ET.fromstring(body)  # noqa: S314 - test client's request
        except ET.ParseError:
            return body, {}  # let upstream answer MalformedXML
        objects = root.findall(f"{{{S3_NS}}}Object") or root.findall("Object")
        keys = [text_of(obj, "Key") for obj in objects]
        self.batches.append(keys)
        failed = self._pick_failures(rules, keys)
        if not failed:
            return body, failed
        if not self._can_resign(headers):
            self.stats["delete_resign_skipped"] += 1
            return body, {}
        for obj, key in zip(objects, keys, strict=True):
            if key in failed:
                root.remove(obj)
        self.stats["delete_key_error"] += len(failed)
        if len(failed) == len(keys):
            return b"", failed
        new_body = to_xml(root)
        self._resign(headers, new_body, raw_path)
        return new_body, failed

    def _pick_failures(self, rules: FaultRules, keys: list[str]) -> dict[str, str]:
        failed: dict[str, str] = {}
        for key in keys:
            if key in rules.delete_errors:
                limit = rules.delete_error_times.get(key)
                if limit is None or self._failures[key] < limit:
                    self._failures[key] += 1
                    failed[key] = rules.delete_errors[key]
            elif rules.delete_error_rate > 0 and self._rng.random() < rules.delete_error_rate:
                failed[key] = self._rng.choice(rules.delete_error_codes)
        return failed

    def _can_resign(self, headers: CIMultiDict[str]) -> bool:
        auth = headers.get("Authorization", "")
        return self.credentials is not None and f"Credential={self.credentials[0]}/" in auth

    def _resign(self, headers: CIMultiDict[str], body: bytes, raw_path: str) -> None:
        """Replace checksums and the SigV4 signature in ``headers`` for a new ``body``."""
        assert self.credentials is not None
        auth = headers["Authorization"]
        signed = auth.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        region = scope[2] if len(scope) >= 5 else self.region
        for name in [
            h for h in headers if h.lower().startswith(("content-md5", "x-amz-checksum-"))
        ]:
            value = _checksum(name.lower(), body)
            if value is None:  # e.g. crc32c without awscrt: drop it rather than send a wrong one
                headers.popall(name)
                headers.popall("x-amz-sdk-checksum-algorithm", None)
            else:
                headers[name] = value
        to_sign = {h: headers[h] for h in signed if h != "host" and h in headers}
        url = f"http://{headers['Host']}{raw_path}"
        req = AWSRequest(method="POST", url=url, data=body, headers=to_sign)
        S3SigV4Auth(Credentials(*self.credentials), "s3", region).add_auth(req)
        for name, value in req.headers.items():
            headers[name] = value


def _checksum(name: str, body: bytes) -> str | None:
    digest: bytes
    if name == "content-md5":
        digest = hashlib.md5(body).digest()  # noqa: S324 - protocol checksum, not security
    elif name == "x-amz-checksum-crc32":
        digest = zlib.crc32(body).to_bytes(4, "big")
    elif name == "x-amz-checksum-sha1":
        digest = hashlib.sha1(body).digest()  # noqa: S324 - protocol checksum
    elif name == "x-amz-checksum-sha256":
        digest = hashlib.sha256(body).digest()
    else:
        return None
    return base64.b64encode(digest).decode()
