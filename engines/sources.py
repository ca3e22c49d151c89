"""Resolves a model source to a local diffusers-format folder.

    preset:<name>        built-in preset, built once into the cache (random weights)
    /path or ./path      a local diffusers folder, used in place
    s3://bucket/prefix   synced to <cache>/s3/<bucket>/<prefix> (only changed objects are fetched)
    hub:<org>/<repo>     Hugging Face Hub snapshot, where the network allows

A malformed source is a configuration error (ValueError, caught at start-up); a remote store
that cannot be reached is Unavailable.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from engines import presets
from genmedia.errors import Unavailable

logger = logging.getLogger(__name__)


def resolve_source(source: str, cache_dir: Path) -> Path:
    """Returns a local model folder for `source`: a diffusers folder (model_index.json) or a
    transformers MusicGen folder (config.json)."""
    if source.startswith("preset:"):
        return presets.ensure_preset(source.removeprefix("preset:"), cache_dir / "presets")
    if source.startswith("s3://"):
        return sync_s3_prefix(source, cache_dir / "s3")
    if source.startswith("hub:"):
        return _hub_snapshot(source.removeprefix("hub:"), cache_dir / "hub")
    path = Path(source).expanduser().resolve()
    if not _is_model_folder(path):
        raise ValueError(
            f"model source {source!r}: {path} has no model_index.json or config.json "
            "(not a diffusers folder nor a transformers model)"
        )
    return path


def _is_model_folder(path: Path) -> bool:
    # Diffusers pipelines have model_index.json; transformers models (MusicGen) have config.json.
    return (path / "model_index.json").is_file() or (path / "config.json").is_file()


def _s3_client():
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("GENMEDIA_MODELS_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")
    return boto3.client(
        "s3",
        endpoint_url=endpoint or None,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}),
    )


def sync_s3_prefix(uri: str, root: Path, client=None) -> Path:
    """Mirrors s3://bucket/prefix into root/bucket/prefix; returns that folder.

    An object is fetched only when its size or ETag differs from the last sync (recorded in a
    sidecar), and written atomically, so a crash mid-sync never leaves a torn weight file.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    if not bucket or ".." in prefix.split("/"):
        raise ValueError(f"model source {uri!r} is not a valid s3://bucket/prefix")
    client = client or _s3_client()
    dest = (root / bucket / prefix).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        paginator = client.get_paginator("list_objects_v2")
        count = 0
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
            for obj in page.get("Contents", []):
                rel = obj["Key"][len(prefix) :].lstrip("/")
                if not rel or rel.endswith("/"):
                    continue
                target = (dest / rel).resolve()
                if dest not in target.parents:
                    raise ValueError(f"model source {uri!r}: key {obj['Key']!r} escapes the prefix")
                _fetch_if_changed(client, bucket, obj, target)
                count += 1
    except (BotoCoreError, ClientError) as exc:
        raise Unavailable(f"model source {uri}: cannot sync from S3 ({type(exc).__name__})") from exc
    if count == 0 or not _is_model_folder(dest):
        raise ValueError(f"model source {uri!r} holds no model folder (no model_index.json or config.json)")
    return dest


def _fetch_if_changed(client, bucket: str, obj: dict, target: Path) -> None:
    stamp = f"{obj['Size']}:{obj.get('ETag', '')}"
    marker = target.with_name(target.name + ".s3sync")
    if target.is_file() and marker.is_file() and marker.read_text() == stamp:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            client.download_fileobj(bucket, obj["Key"], fh)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    marker.write_text(stamp)
    logger.info("synced s3://%s/%s (%d bytes)", bucket, obj["Key"], obj["Size"])


def _hub_snapshot(repo_id: str, cache: Path) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, cache_dir=cache, allow_patterns=None))
    except Exception as exc:  # network errors come in many types; all mean "not reachable now"
        raise Unavailable(f"model source hub:{repo_id}: cannot download ({type(exc).__name__}: {exc})") from exc
