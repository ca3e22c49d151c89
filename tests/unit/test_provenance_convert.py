"""Provenance records on the wire: private fields only for the owning tenant."""

from datetime import datetime, timezone

from provenance.records import ArtifactRecord, GenerationRecord
from services.convert import provenance_record_to_proto

GID = "0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
RECORD = GenerationRecord(
    generation_id=GID, tenant="acme", kind="image", model="tiny-sd", model_version="v1", prompt_hmac="ab" * 32,
    created_at=datetime(2026, 11, 22, tzinfo=timezone.utc), prompt="a secret prompt", user_id="u1",
    parameters={"seed": 1},
    artifacts=(ArtifactRecord(GID, 0, "s3://bucket/acme/x/0.png", "cd" * 32, "image/png", b"\x01" * 8,
                              b"\x02" * 32, width=512, height=512),),
)


def test_owner_sees_private_fields():
    msg = provenance_record_to_proto(RECORD, "acme")
    assert msg.private_fields and msg.tenant == "acme" and msg.prompt == "a secret prompt"
    assert msg.prompt_hmac == "ab" * 32 and msg.user_id == "u1" and '"seed": 1' in msg.parameters_json
    assert msg.artifacts[0].uri == "s3://bucket/acme/x/0.png"


def test_other_tenants_see_only_public_fields():
    msg = provenance_record_to_proto(RECORD, "someone-else")
    assert not msg.private_fields
    assert (msg.tenant, msg.prompt, msg.prompt_hmac, msg.user_id, msg.parameters_json) == ("", "", "", "", "")
    assert msg.artifacts[0].uri == "" and msg.artifacts[0].sha256 == "cd" * 32
    assert msg.model == "tiny-sd" and msg.generation_id == GID
