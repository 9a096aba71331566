"""S3-compatible object storage as a deploy destination (AWS, OVH, Scaleway, Cloudflare R2, MinIO…).

boto3 finds the credentials the usual way: $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY,
~/.aws/credentials (a [deploy.s3] profile), an instance role. Each object is written whole
with its Content-Type and Cache-Control (a PUT replaces an object atomically); a few uploads
run side by side within one step of the plan, never across steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..config import S3
from .destination import Destination
from .files import LocalFile, hidden
from .plan import Remote
from .targets import PROBE, DeployError, Done

PARALLEL = 8
SINGLE_PUT = 64 * 1024 * 1024  # larger files go in parts (their ETag is then not an MD5)


def _why(e: Exception) -> str:
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        return f"{err.get('Code', '?')}: {err.get('Message', '')}".strip()
    return str(e)


class S3Target:
    """Deploys to a bucket (and key prefix) of an S3-compatible service."""

    def __init__(self, destination: Destination, options: S3) -> None:
        self.bucket = destination.bucket
        self.prefix = destination.path
        self.description = destination.text
        try:
            session = boto3.Session(profile_name=options.profile or None, region_name=options.region or None)
            self.client = session.client(
                "s3", endpoint_url=options.endpoint_url or None,
                config=Config(s3={"addressing_style": options.addressing_style},
                              retries={"mode": "standard", "max_attempts": 5},
                              connect_timeout=10, read_timeout=60, max_pool_connections=PARALLEL * 2,
                              # checksums only where S3 requires them: many compatible services
                              # reject the newer default ones
                              request_checksum_calculation="when_required",
                              response_checksum_validation="when_required"))
        except BotoCoreError as e:
            raise DeployError(f"{self.description}: {e}") from e

    def _fail(self, what: str, e: Exception) -> DeployError:
        return DeployError(f"{self.description}: {what} failed: {_why(e)}")

    def list(self) -> dict[str, Remote]:
        """Every visible object under the prefix, with its size and ETag."""
        out: dict[str, Remote] = {}
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                for obj in page.get("Contents", ()):
                    key = obj["Key"][len(self.prefix):]
                    if key and not key.endswith("/") and not hidden(key):
                        out[key] = Remote(int(obj["Size"]), obj.get("ETag", "").strip('"') or None)
        except (BotoCoreError, ClientError) as e:
            raise self._fail("listing", e) from e
        return out

    def same(self, f: LocalFile, remote: Remote) -> bool:
        """Without a manifest entry: the same bytes when the ETag is the file's MD5."""
        return remote.fingerprint == f.md5

    def _put(self, f: LocalFile) -> str | None:
        key = self.prefix + f.key
        extra = {"ContentType": f.content_type, "CacheControl": f.cache_control}
        if f.size > SINGLE_PUT:
            self.client.upload_file(str(f.path), self.bucket, key, ExtraArgs=extra,
                                    Config=TransferConfig(multipart_threshold=SINGLE_PUT))
            return None
        with open(f.path, "rb") as body:
            answer = self.client.put_object(Bucket=self.bucket, Key=key, Body=body.read(), **extra)
        return answer.get("ETag", "").strip('"') or None

    def upload(self, files: Sequence[LocalFile], done: Done) -> None:
        """Upload the batch, a few objects at a time; stop at the first failure."""
        if not files:
            return
        with ThreadPoolExecutor(PARALLEL) as pool:
            futures = [(f, pool.submit(self._put, f)) for f in files]
            try:
                for f, future in futures:
                    done(f, future.result())
            except (BotoCoreError, ClientError) as e:
                for _, other in futures:
                    other.cancel()
                raise self._fail(f"uploading {f.key}", e) from e
            except BaseException:
                for _, other in futures:
                    other.cancel()
                raise

    def delete(self, keys: Sequence[str]) -> None:
        """Delete objects, a thousand per request."""
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": self.prefix + k} for k in keys[start:start + 1000]]
            try:
                answer = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})
            except (BotoCoreError, ClientError) as e:
                raise self._fail("deleting", e) from e
            errors = answer.get("Errors") or []
            if errors:
                first = errors[0]
                raise DeployError(f"{self.description}: deleting {first.get('Key')} failed: "
                                  f"{first.get('Code')}: {first.get('Message', '')}")

    def probe(self) -> None:
        """Write and delete a hidden object: the bucket exists and these credentials may write."""
        key = self.prefix + PROBE
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=b"extranet doctor\n")
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as e:
            raise self._fail("writing a test object", e) from e
