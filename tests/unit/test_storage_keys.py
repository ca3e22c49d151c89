"""Key layout, and every way we know to steer a key outside its tenant prefix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from genmedia.errors import InvalidArgument
from storage.keys import artifact_key, check_key, manifest_key

GEN = "0f8fad5b-d9cb-469f-a165-70867728950e"
WHEN = datetime(2025, 3, 7, 12, 0, tzinfo=UTC)


def test_artifact_key_layout():
    assert artifact_key("acme", GEN, 0, "png", WHEN) == f"acme/2025/03/07/{GEN}/0.png"
    assert artifact_key("acme", GEN, 12, "mp4", WHEN) == f"acme/2025/03/07/{GEN}/12.mp4"
    named = artifact_key("a-b_c", GEN, "preview", "webp", WHEN)
    assert named == f"a-b_c/2025/03/07/{GEN}/preview.webp"


def test_manifest_key_layout():
    assert manifest_key("acme", GEN, WHEN) == f"acme/2025/03/07/{GEN}/manifest.json"


def test_date_folder_is_utc():
    late_evening_west = datetime(2025, 3, 6, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert artifact_key("acme", GEN, 0, "png", late_evening_west).startswith("acme/2025/03/07/")
    naive = datetime(2025, 12, 31, 23, 59)
    assert manifest_key("acme", GEN, naive).startswith("acme/2025/12/31/")


def test_longest_tenant_accepted():
    tenant = "a" * 63
    assert artifact_key(tenant, GEN, 0, "png", WHEN).startswith(tenant + "/")


BAD_TENANTS = [
    "", ".", "..", "../x", "a/b", "a\\b", "/acme", "acme/", "a\x00b", "Acme", "-acme", "_acme",
    "ac me", "acme\n", "a" * 64, "acmé", "a.b", None, 3,
]


@pytest.mark.parametrize("tenant", BAD_TENANTS)
def test_bad_tenant_rejected(tenant):
    with pytest.raises(InvalidArgument) as info:
        artifact_key(tenant, GEN, 0, "png", WHEN)
    assert info.value.field == "tenant"
    with pytest.raises(InvalidArgument) as info:
        manifest_key(tenant, GEN, WHEN)
    assert info.value.field == "tenant"


BAD_GENERATION_IDS = [
    "", "..", "../" + GEN, GEN + "/..", GEN.upper(), GEN.replace("-", ""), "{" + GEN + "}",
    GEN + "\n", GEN + "\x00", GEN[:-1], GEN + "0", "x" * 36, f"{GEN[:8]}/{GEN[9:]}", None,
]


@pytest.mark.parametrize("generation_id", BAD_GENERATION_IDS)
def test_bad_generation_id_rejected(generation_id):
    with pytest.raises(InvalidArgument) as info:
        artifact_key("acme", generation_id, 0, "png", WHEN)
    assert info.value.field == "generation_id"
    with pytest.raises(InvalidArgument) as info:
        manifest_key("acme", generation_id, WHEN)
    assert info.value.field == "generation_id"


@pytest.mark.parametrize(
    "index", [-1, True, False, "", ".", "..", "../0", "a/b", "a\\b", "0\x00", "x\n", "Preview",
              "manifest", "-1", 1.0, None, "x" * 64]
)
def test_bad_index_rejected(index):
    with pytest.raises(InvalidArgument) as info:
        artifact_key("acme", GEN, index, "png", WHEN)
    assert info.value.field == "index"


@pytest.mark.parametrize(
    "ext", ["", ".", "..", ".png", "png/..", "p/g", "p\\g", "PNG", "png\x00", "png\n", "tar.gz",
            "abcdefghi", "pn g", None]
)
def test_bad_ext_rejected(ext):
    with pytest.raises(InvalidArgument) as info:
        artifact_key("acme", GEN, 0, ext, WHEN)
    assert info.value.field == "ext"


@pytest.mark.parametrize("created", [None, "2025-03-07", 1741348800])
def test_bad_created_rejected(created):
    with pytest.raises(InvalidArgument) as info:
        artifact_key("acme", GEN, 0, "png", created)
    assert info.value.field == "created"


def test_check_key_accepts_generated_keys():
    key = artifact_key("acme", GEN, 3, "png", WHEN)
    assert check_key(key) == key
    assert check_key("models/sd15/unet.safetensors") == "models/sd15/unet.safetensors"


@pytest.mark.parametrize(
    "key",
    [
        "", "/etc/passwd", "acme/../other/x", "..", "../x", "acme/..", "acme/./x", "./x",
        "acme/.hidden", "a//b", "a/", "a\\b", "..\\x", "a\x00b", "a\nb", "a b", "a\tb",
        "acmé/x", "a\x7fb", "x" * 1025, None, b"acme/x",
    ],
)
def test_check_key_rejects(key):
    with pytest.raises(InvalidArgument) as info:
        check_key(key)
    assert info.value.field == "key"


def test_check_key_names_the_given_field():
    with pytest.raises(InvalidArgument) as info:
        check_key("../x", field="uri")
    assert info.value.field == "uri"


def test_check_key_length_limit_is_inclusive():
    assert check_key("x" * 1024) == "x" * 1024
