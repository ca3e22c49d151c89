"""The C2PA manifest definition of a generated image (the JSON the SDK's Builder takes).

    info = ManifestInfo(generation_id="gen-1", model="sdxl", model_version="1.0",
                        software_version="0.1.0", watermark_payload_hex="0123456789abcdef")
    definition = build_manifest(info, "image/png")

The definition makes a C2PA v2 claim (the SDK's default), whose generator is named by
``claim_generator_info`` = [{"name": "genmedia", "version": ...}] (v2 claims have no
``claim_generator`` string: the SDK silently drops one), and carries

* ``c2pa.actions.v2`` with exactly one action, ``c2pa.created``, whose ``digitalSourceType``
  is IPTC's ``trainedAlgorithmicMedia`` (made by a trained model: how a C2PA reader learns that
  the image is AI-generated), ``softwareAgent`` = {"name": "genmedia", "version": ...} and
  ``parameters`` naming the model, its version and the generation id (``PARAM_*`` keys,
  namespaced as the spec asks of non-standard parameters);
* ``com.genmedia.provenance`` (``PROVENANCE_LABEL``), a custom assertion with the generation id,
  model, model version and, when given, the invisible watermark payload and the fingerprint as
  hex: what genmedia needs to find its own records again.

The SDK adds the hard binding (``c2pa.hash.data``: a SHA-256 over every byte of the file
except the manifest itself) when it signs, so any later pixel or metadata change is detected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from provenance.c2pa.formats import EXTENSIONS, check_mime

__all__ = [
    "ACTIONS_LABEL", "CREATED_ACTION", "GENERATOR_NAME", "PARAM_GENERATION_ID", "PARAM_MODEL",
    "PARAM_MODEL_VERSION", "PROVENANCE_LABEL", "TRAINED_ALGORITHMIC_MEDIA", "ManifestInfo",
    "build_manifest",
]

GENERATOR_NAME = "genmedia"
ACTIONS_LABEL = "c2pa.actions.v2"
CREATED_ACTION = "c2pa.created"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
PROVENANCE_LABEL = "com.genmedia.provenance"
PARAM_MODEL = "com.genmedia.model"
PARAM_MODEL_VERSION = "com.genmedia.model_version"
PARAM_GENERATION_ID = "com.genmedia.generation_id"

MAX_TEXT = 256          # characters, for ids, names and versions
MAX_HEX = 1024          # hex digits (512 bytes), for the watermark payload and the fingerprint
_HEX = re.compile(r"(?:[0-9a-f]{2})+")


def _text(name: str, value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    if len(value) > MAX_TEXT:
        raise ValueError(f"{name} must be at most {MAX_TEXT} characters, got {len(value)}")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{name} must not contain control characters, got {value!r}")
    return value


def _hex(name: str, value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a hex str or None, got {type(value).__name__}")
    lowered = value.lower()
    if not _HEX.fullmatch(lowered):
        raise ValueError(f"{name} must be a non-empty, even-length hex string, got {value!r}")
    if len(lowered) > MAX_HEX:
        raise ValueError(f"{name} must be at most {MAX_HEX} hex digits, got {len(lowered)}")
    return lowered


@dataclass(frozen=True)
class ManifestInfo:
    """What the manifest says about one generated image.  Validated on construction (TypeError
    or ValueError naming the field); hex fields are stored lower-case."""

    generation_id: str
    model: str
    model_version: str
    software_version: str                 # genmedia's version: claim generator, softwareAgent
    watermark_payload_hex: str | None = None
    fingerprint_hex: str | None = None

    def __post_init__(self):
        for name in ("generation_id", "model", "model_version", "software_version"):
            _text(name, getattr(self, name))
        for name in ("watermark_payload_hex", "fingerprint_hex"):
            object.__setattr__(self, name, _hex(name, getattr(self, name)))


def build_manifest(info: ManifestInfo, mime: str, *, title: str | None = None,
                   provenance_assertion: bool = True) -> dict:
    """The manifest definition (a JSON-able dict) for an image of type ``mime`` described by
    ``info``.  ``title`` defaults to ``"<generation_id>.<png|jpg>"``;
    ``provenance_assertion=False`` leaves out the ``com.genmedia.provenance`` assertion."""
    if not isinstance(info, ManifestInfo):
        raise TypeError(f"info must be a ManifestInfo, got {type(info).__name__}")
    mime = check_mime(mime)
    title = _text("title", title) if title is not None else (
        f"{info.generation_id}.{EXTENSIONS[mime]}")
    generator = {"name": GENERATOR_NAME, "version": info.software_version}
    created = {
        "action": CREATED_ACTION,
        "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
        "softwareAgent": dict(generator),
        "parameters": {
            PARAM_MODEL: info.model,
            PARAM_MODEL_VERSION: info.model_version,
            PARAM_GENERATION_ID: info.generation_id,
        },
    }
    assertions = [{"label": ACTIONS_LABEL, "data": {"actions": [created]}}]
    if provenance_assertion:
        data = {"generation_id": info.generation_id, "model": info.model,
                "model_version": info.model_version}
        if info.watermark_payload_hex is not None:
            data["watermark_payload_hex"] = info.watermark_payload_hex
        if info.fingerprint_hex is not None:
            data["fingerprint_hex"] = info.fingerprint_hex
        assertions.append({"label": PROVENANCE_LABEL, "data": data})
    return {
        "claim_generator_info": [generator],
        "title": title,
        "format": mime,
        "assertions": assertions,
    }
