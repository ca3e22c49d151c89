"""Real weights by config alone: a diffusers folder under an s3:// prefix is synced and served."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from engines import presets
from engines.loading import DENOISE_PARTS, load_parts
from engines.registry import ModelSpec
from engines.sources import resolve_source

pytestmark = pytest.mark.integration


@pytest.fixture()
def models_bucket(s3_server, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    monkeypatch.setenv("GENMEDIA_MODELS_S3_ENDPOINT_URL", s3_server.endpoint_url)
    client = boto3.client("s3", endpoint_url=s3_server.endpoint_url, region_name=s3_server.region)
    client.create_bucket(Bucket="models")
    folder = presets.ensure_preset("tiny-sd", tmp_path / "built")
    for file in folder.rglob("*"):
        if file.is_file():
            client.upload_file(str(file), "models", f"sd/tiny/{file.relative_to(folder).as_posix()}")
    return client


def test_s3_prefix_is_synced_once_and_loads(models_bucket, tmp_path):
    cache = tmp_path / "cache"
    path = resolve_source("s3://models/sd/tiny", cache)
    assert (path / "model_index.json").is_file() and path.is_relative_to(cache)
    weights = sorted(path.rglob("*.safetensors"))
    mtimes = [w.stat().st_mtime_ns for w in weights]
    assert resolve_source("s3://models/sd/tiny", cache) == path
    assert [w.stat().st_mtime_ns for w in weights] == mtimes  # unchanged objects are not fetched again
    parts = load_parts(ModelSpec(name="from-s3", source="s3://models/sd/tiny"), cache, DENOISE_PARTS)
    assert parts.pipeline.unet is not None


def test_empty_prefix_is_a_config_error(models_bucket, tmp_path):
    with pytest.raises(ValueError, match="no model_index.json"):
        resolve_source("s3://models/nothing-here", tmp_path)


def test_local_folder_without_index_is_a_config_error(tmp_path: Path):
    with pytest.raises(ValueError, match="not a diffusers folder"):
        resolve_source(str(tmp_path), tmp_path / "cache")
