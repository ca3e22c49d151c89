"""C2PA Content Credentials for generated images: a signed manifest saying "made by AI".

    signer = C2paSigner(SigningConfig(cert_chain_path="chain.pem", private_key_path="key.pem"))
    info = ManifestInfo(generation_id="gen-1", model="sdxl", model_version="1.0",
                        software_version="0.1.0", watermark_payload_hex="0123456789abcdef")
    signed = signer.sign(png_bytes, "image/png", info)            # PNG or JPEG bytes out
    status = read_manifest(signed, "image/png", trust_anchors=Path("ca.pem"))
    status.verified, status.digital_source_type, status.generation_id, status.validation_errors

Every released image carries a C2PA v2 claim with one ``c2pa.created`` action whose
``digitalSourceType`` is IPTC ``trainedAlgorithmicMedia``, naming genmedia, the model and the
generation id, plus a ``com.genmedia.provenance`` assertion linking the image to its invisible
watermark and fingerprint; the manifest is embedded in the file and hard-bound to its bytes.

Built on the C2PA SDK's Python bindings (PyPI ``c2pa-python``, module ``c2pa``; c2pa-rs
underneath), which do the embedding, signing and validation; ``cryptography`` checks the
credential up front so configuration errors are precise.

Modules: ``manifest`` (ManifestInfo, the manifest definition), ``signing`` (SigningConfig,
C2paSigner), ``verify`` (read_manifest, ManifestVerifier, ManifestStatus), ``certs``
(certificate, key and trust anchor checks), ``formats`` (PNG, JPEG, WebP; MP4, WAV, FLAC, MP3), ``errors`` (C2paError).
"""

from __future__ import annotations

from provenance.c2pa.errors import C2paError
from provenance.c2pa.formats import IMAGE_MIMES, MEDIA_MIMES, SUPPORTED_MIMES, is_supported, sniff_mime
from provenance.c2pa.manifest import (
    PROVENANCE_LABEL,
    TRAINED_ALGORITHMIC_MEDIA,
    ManifestInfo,
    build_manifest,
)
from provenance.c2pa.signing import ALGORITHMS, C2paSigner, SigningConfig
from provenance.c2pa.verify import ManifestStatus, ManifestVerifier, read_manifest

__all__ = [
    "ALGORITHMS", "IMAGE_MIMES", "MEDIA_MIMES", "PROVENANCE_LABEL", "SUPPORTED_MIMES", "TRAINED_ALGORITHMIC_MEDIA",
    "C2paError", "C2paSigner", "ManifestInfo", "ManifestStatus", "ManifestVerifier",
    "SigningConfig", "build_manifest", "is_supported", "read_manifest", "sniff_mime",
]
