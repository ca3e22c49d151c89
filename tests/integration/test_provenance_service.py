"""Provenance end to end over gRPC: generate an image, attack it, and verify it over gRPC."""

from __future__ import annotations

import io

import grpc
import numpy as np
import pytest
from PIL import Image

from genmedia.client import GenmediaClient
from genmedia.v1 import provenance_pb2 as ppb
from genmedia.v1 import provenance_pb2_grpc as ppb_grpc
from loadtests import watermark_attacks as attacks

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def module_client(service):
    with GenmediaClient(service.address) as c:
        yield c


@pytest.fixture(scope="module")
def provenance(module_client):
    return ppb_grpc.ProvenanceServiceStub(module_client.channel)


@pytest.fixture(scope="module")
def generated(module_client):
    result = module_client.generate_image(prompt="a harbour with fishing boats at dawn", seed=11, steps=2, width=512,
                                   height=512, return_bytes=True, timeout=180)
    return result


def png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def pixels_of(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_released_image_verifies_with_watermark_c2pa_and_record(provenance, generated):
    image = generated.images[0]
    result = provenance.Verify(ppb.VerifyRequest(data=image.data), timeout=60)
    assert result.authenticity == ppb.AUTHENTICITY_GENERATED_HERE
    assert result.watermark.found and result.watermark.confidence > 0.999999 and len(result.watermark.payload) == 8
    assert result.c2pa.present and result.c2pa.valid and result.c2pa.trusted
    assert result.c2pa.digital_source_type.endswith("trainedAlgorithmicMedia")
    assert result.c2pa.generation_id == generated.generation_id
    assert result.fingerprint_matches[0].generation_id == generated.generation_id
    assert result.fingerprint_matches[0].distance <= 4
    record = result.record
    assert record.generation_id == generated.generation_id and record.model == generated.model
    assert record.private_fields and record.tenant == "local" and len(record.prompt_hmac) == 64
    assert record.prompt == ""  # the default policy keeps only the keyed hash of the prompt
    assert record.artifacts[0].uri == image.uri and record.artifacts[0].sha256 == image.sha256


def test_verify_by_uri(provenance, generated):
    result = provenance.Verify(ppb.VerifyRequest(uri=generated.images[0].uri), timeout=60)
    assert result.authenticity == ppb.AUTHENTICITY_GENERATED_HERE
    assert result.record.generation_id == generated.generation_id


@pytest.mark.parametrize("attack", ["jpeg75", "jpeg50", "resize0.5", "crop10c", "crop25o", "blur1", "bright+20",
                                    "contr-20"])
def test_attacked_image_still_names_its_record(provenance, generated, attack):
    attacked = attacks.ATTACKS[attack](pixels_of(generated.images[0].data))
    result = provenance.Verify(ppb.VerifyRequest(data=png(attacked)), timeout=60)
    assert result.authenticity in (ppb.AUTHENTICITY_GENERATED_HERE, ppb.AUTHENTICITY_LIKELY_GENERATED_HERE), \
        list(result.reasons)
    assert result.record.generation_id == generated.generation_id
    assert not result.c2pa.present  # re-encoding drops the manifest; the watermark carries on


def test_edited_pixels_invalidate_c2pa_but_not_the_watermark(provenance, generated):
    data = generated.images[0].data
    pixels = pixels_of(data).copy()
    pixels[:8, :8] = 0
    result = provenance.Verify(ppb.VerifyRequest(data=png(pixels)), timeout=60)
    assert result.watermark.found and result.record.generation_id == generated.generation_id


def test_unrelated_photo_is_not_found(provenance):
    data = pytest.importorskip("skimage.data")
    result = provenance.Verify(ppb.VerifyRequest(data=png(data.astronaut())), timeout=60)
    assert result.authenticity == ppb.AUTHENTICITY_NOT_FOUND
    assert not result.watermark.found and not result.fingerprint_matches and not result.HasField("record")


def test_get_record(provenance, generated):
    record = provenance.GetRecord(ppb.GetRecordRequest(generation_id=generated.generation_id), timeout=30)
    assert record.generation_id == generated.generation_id and record.kind == "image"
    assert '"seed": 11' in record.parameters_json and record.private_fields


@pytest.mark.parametrize("request_, field, code", [
    (ppb.VerifyRequest(), "source", grpc.StatusCode.INVALID_ARGUMENT),
    (ppb.VerifyRequest(data=b"not an image"), "data", grpc.StatusCode.INVALID_ARGUMENT),
    (ppb.VerifyRequest(uri="https://example.com/x.png"), "uri", grpc.StatusCode.INVALID_ARGUMENT),
])
def test_verify_rejects_bad_input(provenance, request_, field, code):
    with pytest.raises(grpc.RpcError) as err:
        provenance.Verify(request_, timeout=30)
    assert err.value.code() == code and err.value.details().startswith(f"{field}:")


def test_get_record_errors(provenance):
    with pytest.raises(grpc.RpcError) as err:
        provenance.GetRecord(ppb.GetRecordRequest(generation_id="nope"), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        provenance.GetRecord(ppb.GetRecordRequest(generation_id="01a20043-8896-7cf3-82bc-b4af6ccf4246"), timeout=30)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
