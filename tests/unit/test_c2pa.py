"""C2PA manifests (provenance.c2pa): PNG/JPEG round trips, tampering, stripping, trust,
credential checks, input validation.  Throwaway certificates from tests/fixtures; no network
(no timestamp authority, no OCSP, no remote manifests)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

from provenance.c2pa import (
    PROVENANCE_LABEL,
    TRAINED_ALGORITHMIC_MEDIA,
    C2paError,
    C2paSigner,
    ManifestInfo,
    ManifestVerifier,
    SigningConfig,
    build_manifest,
    read_manifest,
    sniff_mime,
)
from provenance.c2pa.manifest import ACTIONS_LABEL, PARAM_GENERATION_ID, PARAM_MODEL
from provenance.c2pa.verify import UNREADABLE
from provenance.c2pa.dev_chain import DOCUMENT_SIGNING_EKU, make_test_chain

INFO = ManifestInfo(generation_id="gen-0001", model="tiny-sd", model_version="2024.1",
                    software_version="0.1.0", watermark_payload_hex="0123456789ABCDEF",
                    fingerprint_hex="a1b2c3d4")
MIMES = ("image/png", "image/jpeg", "image/webp")


# --------------------------------------------------------------------------- fixtures, helpers

@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    """Two unrelated (chain, key, ca) credentials: ours, and a rogue CA's."""
    d = tmp_path_factory.mktemp("c2pa-certs")
    return {"ours": make_test_chain(d, name="ours"), "rogue": make_test_chain(d, name="rogue")}


@pytest.fixture(scope="module")
def signer(chains):
    chain, key, _ = chains["ours"]
    return C2paSigner(SigningConfig(cert_chain_path=chain, private_key_path=key))


def pixels(seed: int = 0, size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([x * 2, y * 2, (x + y)], axis=-1).astype(np.int16)
    return np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)


def encode(rgb: np.ndarray, mime: str) -> bytes:
    buf = io.BytesIO()
    fmt = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}[mime]
    Image.fromarray(rgb).save(buf, fmt, **({"lossless": True} if fmt == "WEBP" else {"quality": 90}))
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, i = [], 8
    while i < len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        out.append((data[i + 4:i + 8], data[i + 8:i + 8 + n]))
        i += 12 + n
    return out


def png_build(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        for kind, body in chunks)


def tamper(signed: bytes, mime: str) -> bytes:
    """``signed`` with a few pixels changed and its manifest left in place."""
    if mime == "image/png":   # re-encode the pixels, keep every other chunk (caBX included)
        rgb = decode(signed).copy()
        rgb[10:14, 10:14] ^= 0x40
        idat = b"".join(b for k, b in png_chunks(encode(rgb, mime)) if k == b"IDAT")
        out, done = [], False
        for kind, body in png_chunks(signed):
            if kind != b"IDAT":
                out.append((kind, body))
            elif not done:
                out.append((kind, idat))
                done = True
        return png_build(out)
    data = bytearray(signed)  # JPEG: flip one bit of the entropy-coded scan
    i = data.rfind(b"\xff\xda") + 300
    while 0xFF in (data[i - 1], data[i], data[i] ^ 1):
        i += 1
    data[i] ^= 1
    return bytes(data)


def issue_leaf(tmp: Path, *, eku=True, ca_flag=False, self_signed=False, expired=False):
    """A (chain, key) pair with one deliberate C2PA profile violation."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bad test CA")])
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bad test signer")])
    now = dt.datetime.now(dt.timezone.utc)
    start, end = ((now - dt.timedelta(days=10), now - dt.timedelta(days=1)) if expired
                  else (now - dt.timedelta(days=1), now + dt.timedelta(days=5)))
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(name if self_signed else ca_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=ca_flag, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                            False), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca_key.public_key()), critical=False))
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING_EKU]), critical=False)
    cert = builder.sign(key if self_signed else ca_key, hashes.SHA256())
    chain, key_path = tmp / "bad-chain.pem", tmp / "bad-key.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return chain, key_path


# --------------------------------------------------------------------------- manifest definition

def test_manifest_definition_says_ai_generated():
    m = build_manifest(INFO, "image/png")
    assert m["claim_generator_info"] == [{"name": "genmedia", "version": "0.1.0"}]
    assert m["format"] == "image/png" and m["title"] == "gen-0001.png"
    (actions,) = [a for a in m["assertions"] if a["label"] == ACTIONS_LABEL]
    (created,) = actions["data"]["actions"]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert created["softwareAgent"] == {"name": "genmedia", "version": "0.1.0"}
    assert created["parameters"][PARAM_MODEL] == "tiny-sd"
    assert created["parameters"][PARAM_GENERATION_ID] == "gen-0001"
    (custom,) = [a for a in m["assertions"] if a["label"] == PROVENANCE_LABEL]
    assert custom["data"]["watermark_payload_hex"] == "0123456789abcdef"   # normalised
    assert custom["data"]["fingerprint_hex"] == "a1b2c3d4"
    jpeg = build_manifest(INFO, "image/jpeg", title="x", provenance_assertion=False)
    assert jpeg["format"] == "image/jpeg" and jpeg["title"] == "x"
    assert [a["label"] for a in jpeg["assertions"]] == [ACTIONS_LABEL]


@pytest.mark.parametrize("field, value, exc", [
    ("generation_id", "", ValueError), ("model", None, TypeError),
    ("model_version", "x" * 300, ValueError), ("software_version", "1\n2", ValueError),
    ("watermark_payload_hex", "abc", ValueError), ("fingerprint_hex", "zz", ValueError),
    ("fingerprint_hex", 12, TypeError)])
def test_manifest_info_validation(field, value, exc):
    kwargs = dict(generation_id="g", model="m", model_version="1", software_version="0.1.0")
    kwargs[field] = value
    with pytest.raises(exc, match=field):
        ManifestInfo(**kwargs)


# --------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("mime", MIMES)
def test_round_trip(signer, chains, mime):
    original = encode(pixels(), mime)
    signed = signer.sign(original, mime, INFO)
    assert sniff_mime(signed) == mime and len(signed) > len(original)
    assert np.array_equal(decode(signed), decode(original))     # pixels untouched

    status = read_manifest(signed, mime, trust_anchors=chains["ours"][2])
    assert status.present and status.valid and status.trusted and status.verified
    assert status.validation_errors == [] and status.validation_state == "Trusted"
    assert [a["action"] for a in status.actions] == ["c2pa.created"]
    assert status.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert (status.model, status.model_version, status.generation_id) == (
        "tiny-sd", "2024.1", "gen-0001")
    assert status.watermark_payload_hex == "0123456789abcdef"
    assert status.fingerprint_hex == "a1b2c3d4"
    assert status.claim_generator == "genmedia/0.1.0"
    assert status.signer_common_name == "ours signer" and status.issuer == "genmedia test"
    assert status.signing_algorithm.lower() == "es256"

    integrity_only = read_manifest(signed, mime)                  # no anchors: trust not judged
    assert integrity_only.valid and integrity_only.trusted is None
    assert not integrity_only.verified and integrity_only.validation_errors == []


@pytest.mark.parametrize("alg", ["ed25519", "ps256"])
def test_other_algorithms(tmp_path, alg):
    chain, key, ca = make_test_chain(tmp_path, alg=alg)
    signed = C2paSigner(SigningConfig(chain, key, algorithm=alg.upper())).sign(
        encode(pixels(1), "image/png"), "image/png", INFO)
    status = read_manifest(signed, "image/png", trust_anchors=Path(ca))
    assert status.verified and status.signing_algorithm.lower() == alg


def test_concurrent_use(signer, chains):
    """One signer and one verifier shared by threads, as a serving replica does."""
    verifier = ManifestVerifier(trust_anchors=chains["ours"][2])
    images = [(encode(pixels(10 + i), MIMES[i % 2]), MIMES[i % 2]) for i in range(16)]

    def round_trip(item):
        data, mime = item
        return verifier.read(signer.sign(data, mime, INFO), mime).verified

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(round_trip, images))


# --------------------------------------------------------------------------- failures detected

@pytest.mark.parametrize("mime", MIMES)
def test_tampered_pixels_are_invalid(signer, chains, mime):
    signed = signer.sign(encode(pixels(2), mime), mime, INFO)
    tampered = tamper(signed, mime)
    assert not np.array_equal(decode(tampered), decode(signed))
    status = read_manifest(tampered, mime, trust_anchors=chains["ours"][2])
    assert status.present and not status.valid and not status.verified
    assert "assertion.dataHash.mismatch" in status.validation_errors
    assert status.generation_id == "gen-0001"      # still readable, just not to be believed


@pytest.mark.parametrize("mime", MIMES)
def test_stripped_image_has_no_manifest(signer, chains, mime):
    signed = signer.sign(encode(pixels(3), mime), mime, INFO)
    stripped = encode(decode(signed), mime)         # re-encoding drops the manifest
    status = read_manifest(stripped, mime, trust_anchors=chains["ours"][2])
    assert not status.present and not status.valid and status.trusted is False
    assert read_manifest(encode(pixels(3), mime), mime).trusted is None


def test_untrusted_ca(chains):
    rogue_chain, rogue_key, rogue_ca = chains["rogue"]
    rogue = C2paSigner(SigningConfig(rogue_chain, rogue_key))
    signed = rogue.sign(encode(pixels(4), "image/png"), "image/png", INFO)
    ours = ManifestVerifier(trust_anchors=chains["ours"][2])
    status = ours.read(signed, "image/png")
    assert status.present and status.valid and status.trusted is False and not status.verified
    assert status.validation_errors == ["signingCredential.untrusted"]
    both = ManifestVerifier(trust_anchors=[chains["ours"][2], Path(rogue_ca).read_text()])
    assert both.read(signed, "image/png").verified


def test_damaged_manifest_is_present_but_invalid(signer):
    signed = signer.sign(encode(pixels(5), "image/png"), "image/png", INFO)
    damaged = png_build([(k, b[:len(b) // 2] if k == b"caBX" else b)
                         for k, b in png_chunks(signed)])
    status = read_manifest(damaged, "image/png")
    assert status.present and not status.valid and status.validation_errors
    if status.validation_errors == [UNREADABLE]:
        assert status.error


def test_unparseable_image_raises(signer):
    signed = signer.sign(encode(pixels(6), "image/png"), "image/png", INFO)
    with pytest.raises(C2paError, match="could not be parsed"):
        read_manifest(signed[:200], "image/png")


# --------------------------------------------------------------------------- bad credentials

def test_missing_and_unreadable_files(tmp_path, chains):
    chain, key, _ = chains["ours"]
    with pytest.raises(C2paError, match="cannot read the certificate chain"):
        C2paSigner(SigningConfig(tmp_path / "nope.pem", key))
    with pytest.raises(C2paError, match="cannot read the private key"):
        C2paSigner(SigningConfig(chain, tmp_path / "nope.pem"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a pem\n")
    with pytest.raises(C2paError, match="no readable PEM certificate"):
        C2paSigner(SigningConfig(junk, key))
    with pytest.raises(C2paError, match="no readable PEM private key"):
        C2paSigner(SigningConfig(chain, junk))
    with pytest.raises(C2paError, match="no readable PEM private key"):
        C2paSigner(SigningConfig(chain, chain))                  # a certificate, not a key


def test_encrypted_key(tmp_path, chains):
    chain, key, _ = chains["ours"]
    pem = serialization.load_pem_private_key(Path(key).read_bytes(), None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"))
    (tmp_path / "enc.pem").write_bytes(pem)
    with pytest.raises(C2paError, match="encrypted private key"):
        C2paSigner(SigningConfig(chain, tmp_path / "enc.pem"))


def test_key_and_algorithm_mismatch(chains):
    chain, _, _ = chains["ours"]
    _, rogue_key, _ = chains["rogue"]
    with pytest.raises(C2paError, match="does not belong to the signing certificate"):
        C2paSigner(SigningConfig(chain, rogue_key))
    with pytest.raises(C2paError, match="PS256 needs an RSA key, but the private key is an EC"):
        C2paSigner(SigningConfig(chain, chains["ours"][1], algorithm="ps256"))
    with pytest.raises(ValueError, match="algorithm must be one of"):
        SigningConfig(chain, chains["ours"][1], algorithm="rs256")
    with pytest.raises(ValueError, match="tsa_url"):
        SigningConfig(chain, chains["ours"][1], tsa_url="ftp://tsa.example")


@pytest.mark.parametrize("defect, message", [
    (dict(eku=False), "no extendedKeyUsage"),
    (dict(ca_flag=True), "is a CA certificate"),
    (dict(self_signed=True), "self-signed"),
    (dict(expired=True), "expired on"),
])
def test_certificate_profile_violations(tmp_path, defect, message):
    chain, key = issue_leaf(tmp_path, **defect)
    with pytest.raises(C2paError, match=message):
        C2paSigner(SigningConfig(chain, key))


def test_chain_out_of_order(tmp_path, chains):
    chain, key, ca = chains["ours"]
    _, _, rogue_ca = chains["rogue"]
    wrong = tmp_path / "wrong-chain.pem"
    wrong.write_bytes(Path(chain).read_bytes() + Path(rogue_ca).read_bytes())
    with pytest.raises(C2paError, match="is not issued by certificate 1"):
        C2paSigner(SigningConfig(wrong, key))
    full = tmp_path / "full-chain.pem"                            # root included: accepted
    full.write_bytes(Path(chain).read_bytes() + Path(ca).read_bytes())
    C2paSigner(SigningConfig(full, key))


def test_bad_trust_anchors(tmp_path):
    with pytest.raises(C2paError, match="must be PEM text"):
        ManifestVerifier(trust_anchors="ca.pem")
    with pytest.raises(C2paError, match="cannot read the trust anchor file"):
        ManifestVerifier(trust_anchors=tmp_path / "missing.pem")
    with pytest.raises(C2paError, match="empty"):
        ManifestVerifier(trust_anchors=[])


# --------------------------------------------------------------------------- argument checks

def test_unsupported_mime(signer):
    png = encode(pixels(), "image/png")
    for call in (lambda: signer.sign(png, "image/gif", INFO),
                 lambda: read_manifest(png, "image/gif")):
        with pytest.raises(ValueError, match="unsupported mime type 'image/gif'"):
            call()
    assert signer.sign(png, " Image/PNG ", INFO)                  # case and spaces tolerated


def test_bytes_must_match_mime(signer):
    png = encode(pixels(), "image/png")
    with pytest.raises(ValueError, match=r"not a image/jpeg file .* image/png"):
        signer.sign(png, "image/jpeg", INFO)
    with pytest.raises(ValueError, match="empty"):
        read_manifest(b"", "image/png")
    with pytest.raises(TypeError, match="image_bytes must be bytes"):
        signer.sign(np.zeros(3), "image/png", INFO)
    with pytest.raises(TypeError, match="info must be a ManifestInfo"):
        signer.sign(png, "image/png", {"generation_id": "x"})


def test_cli_writes_usable_credentials(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "make_c2pa_test_certs",
        Path(__file__).resolve().parents[2] / "scripts" / "make_c2pa_test_certs.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert cli.main([str(tmp_path / "out"), "--name", "dev", "--days", "2"]) == 0
    assert "dev-chain.pem" in capsys.readouterr().out
    out = tmp_path / "out"
    signer = C2paSigner(SigningConfig(out / "dev-chain.pem", out / "dev-key.pem"))
    signed = signer.sign(encode(pixels(), "image/jpeg"), "image/jpeg", INFO)
    assert read_manifest(signed, "image/jpeg", trust_anchors=out / "dev-ca.pem").verified
