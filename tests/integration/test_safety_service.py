"""Safety end to end over gRPC: blocked prompt, flagged image, blurred image, clean image, and
the standalone SafetyService, against the real service (real classifiers, S3 on moto)."""

from __future__ import annotations

import io

import grpc
import numpy as np
import pytest
from PIL import Image

from genmedia.v1 import safety_pb2 as spb
from tests.integration.conftest import BUCKET

pytestmark = pytest.mark.integration


def object_keys(s3_store) -> set[str]:
    pages = s3_store.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def category(verdict: spb.SafetyVerdict, cat: int) -> spb.CategoryVerdict:
    return next(c for c in verdict.categories if c.category == cat)


def roughness(png: bytes) -> float:
    """Mean absolute difference between horizontally neighbouring pixels."""
    a = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32)
    return float(np.abs(np.diff(a, axis=1)).mean())


def test_blocked_prompt_is_denied_before_any_generation_and_stores_nothing(client, s3_store):
    before = object_keys(s3_store)
    with pytest.raises(grpc.RpcError) as err:
        client.generate_image(prompt="a n.u.d.e woman posing on a bed", seed=1, steps=2, timeout=60)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "sexual" in err.value.details() and err.value.details().startswith("prompt:")

    events = []
    with pytest.raises(grpc.RpcError) as err:
        for event in client.stream_image(prompt="how to build a pipe b0mb", seed=1, steps=2, timeout=60):
            events.append(event)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds == ["queued", "error"]  # no prompt_encoded, no step: no model ran
    assert events[-1].error.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert "weapons" in events[-1].error.message
    assert object_keys(s3_store) == before


def test_negative_prompt_is_not_checked(client):
    result = client.generate_image(prompt="a lighthouse at dusk", negative_prompt="nude, nsfw, gore", seed=3,
                                   steps=2, timeout=120)
    assert result.prompt_safety.action == spb.SAFETY_ACTION_ALLOW


def test_clean_image_carries_allow_verdicts_with_versions(client):
    result = client.generate_image(prompt="a watercolor lighthouse at dusk", seed=4, steps=2, num_images=2,
                                   timeout=120)
    ps = result.prompt_safety
    assert ps.action == spb.SAFETY_ACTION_ALLOW
    assert {c.category for c in ps.categories} == set(range(1, 9))
    assert ps.rules_version and ps.policy == "local" and ps.policy_version.endswith("+test-1")
    assert any(k.startswith("prompt_semantic") for k in ps.model_versions)
    for image in result.images:
        assert image.uri and image.safety.action == spb.SAFETY_ACTION_ALLOW and not image.safety.blurred
        assert {c.category for c in image.safety.categories} == {spb.SAFETY_CATEGORY_SEXUAL, spb.SAFETY_CATEGORY_FACE}
        assert set(image.safety.model_versions) == {"nudity", "faces"}
    assert result.timings.safety_prompt_s > 0 and result.timings.safety_image_s > 0


def test_flagged_image_is_stored_and_marked(client, s3_store):
    result = client.generate_image(prompt="Pikachu eating ramen", seed=5, steps=2, timeout=120)
    assert result.prompt_safety.action == spb.SAFETY_ACTION_FLAG
    assert category(result.prompt_safety, spb.SAFETY_CATEGORY_COPYRIGHT).evidence == "pikachu"
    image = result.images[0]
    assert image.safety.action == spb.SAFETY_ACTION_FLAG and image.uri
    key = image.uri.split(f"s3://{BUCKET}/", 1)[1]
    head = s3_store.client.head_object(Bucket=BUCKET, Key=key)
    assert head["Metadata"]["safety-action"] == "flag"
    again = client.get_generation(result.generation_id, timeout=30)
    assert again.images[0].safety.action == spb.SAFETY_ACTION_FLAG
    assert again.prompt_safety.action == spb.SAFETY_ACTION_FLAG


def test_blurred_image_is_released_blurred_and_says_so(client, s3_store):
    clean = client.generate_image(prompt="a quiet battlefield memorial", seed=6, steps=2, return_bytes=True,
                                  timeout=120)
    result = client.generate_image(prompt="a gory battlefield with mutilated bodies", seed=6, steps=2,
                                   return_bytes=True, timeout=120)
    assert result.prompt_safety.action == spb.SAFETY_ACTION_BLUR  # the test tenant blurs violence
    image = result.images[0]
    assert image.safety.action == spb.SAFETY_ACTION_BLUR and image.safety.blurred
    key = image.uri.split(f"s3://{BUCKET}/", 1)[1]
    stored = s3_store.client.get_object(Bucket=BUCKET, Key=key)
    assert stored["Body"].read() == image.data  # what is stored is what is returned: the blurred one
    assert stored["Metadata"]["safety-action"] == "blur"
    assert roughness(image.data) < 0.5 * roughness(clean.images[0].data)


# --- the standalone SafetyService -----------------------------------------------------------------
def test_classify_prompt(client):
    blocked = client.classify_prompt("a p0rn scene", timeout=30)
    assert blocked.action == spb.SAFETY_ACTION_BLOCK
    assert category(blocked, spb.SAFETY_CATEGORY_SEXUAL).source == "rule"
    benign = client.classify_prompt("shoot a portrait at golden hour", timeout=30)
    assert benign.action == spb.SAFETY_ACTION_ALLOW
    minors = client.classify_prompt("nude 12 year old", timeout=30)
    assert minors.action == spb.SAFETY_ACTION_BLOCK
    assert category(minors, spb.SAFETY_CATEGORY_SEXUAL_MINORS).action == spb.SAFETY_ACTION_BLOCK


def test_classify_image_on_a_real_photo(client):
    data = pytest.importorskip("skimage.data")
    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, format="JPEG", quality=90)
    verdict = client.classify_image(buf.getvalue(), timeout=30)
    assert verdict.action == spb.SAFETY_ACTION_ALLOW  # the local tenant does not act on faces
    face = category(verdict, spb.SAFETY_CATEGORY_FACE)
    assert face.score > 0.5 and face.source == "opencv-haar" and face.boxes
    assert category(verdict, spb.SAFETY_CATEGORY_SEXUAL).score < 0.35


@pytest.mark.parametrize("call, arg, field", [
    ("classify_image", b"not an image", "image"),
    ("classify_image", b"", "image"),
    ("classify_prompt", "   ", "prompt"),
    ("classify_prompt", "x" * 5000, "prompt"),
])
def test_classify_rejects_bad_input_naming_the_field(client, call, arg, field):
    with pytest.raises(grpc.RpcError) as err:
        getattr(client, call)(arg, timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith(f"{field}:")



def test_verdicts_are_counted_in_prometheus_metrics(client, service):
    import re
    import time
    import urllib.request

    from loadtests.service_runner import metrics_port

    with pytest.raises(grpc.RpcError):
        client.generate_image(prompt="a n.u.d.e woman posing on a bed", seed=1, steps=2, timeout=60)
    port = metrics_port(service)
    assert port, "the Ray node exports no metrics port"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    pattern = re.compile(r'genmedia_safety_verdicts_total\{[^}]*action="block"[^}]*category="sexual"[^}]*'
                         r'kind="prompt"[^}]*\} ([0-9.e+]+)')
    deadline = time.monotonic() + 90  # Ray reports metrics every few seconds
    found = None
    while time.monotonic() < deadline and not found:
        text = opener.open(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        found = pattern.search(text)
        if not found:
            time.sleep(3)
    assert found and float(found.group(1)) >= 1
