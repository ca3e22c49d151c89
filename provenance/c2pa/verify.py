"""Reading and validating the C2PA manifest of an image.

    status = read_manifest(image_bytes, "image/png")                      # integrity only
    status = read_manifest(image_bytes, "image/png", trust_anchors=Path("ca.pem"))
    verifier = ManifestVerifier(trust_anchors=[Path("ca.pem"), Path("other-ca.pem")])
    status = verifier.read(image_bytes, "image/jpeg")                    # reuse for many images

How it is decided (all by the C2PA SDK, c2pa-rs, configured through its Settings/Context API;
nothing is fetched from the network: remote manifests and OCSP are off):

* ``present``: the file carries an embedded C2PA manifest store.  An image re-encoded or
  stripped of its metadata has none.
* ``valid``: the active manifest's claim signature verifies, the certificate meets the C2PA
  profile and was valid when it signed, every assertion matches its hash in the claim, and the
  hard binding (SHA-256 over all bytes but the manifest) matches the file, so changed pixels
  report ``assertion.dataHash.mismatch``.  It ignores only trust (below).
* ``trusted`` (only when trust anchors are given; None otherwise): the signing certificate
  chains, through the ``x5chain`` it carries, to one of the given anchors (the SDK's
  ``trust.trust_anchors`` setting, which *replaces* any built-in list, so exactly the supplied
  anchors count) with an allowed EKU.  A manifest signed under another CA is ``valid`` but not
  ``trusted`` and lists ``signingCredential.untrusted``.  If signatures carry timestamps, the
  timestamp authority's root must be among the anchors as well.
* ``validation_errors``: the failure codes of the active manifest (C2PA validation status
  codes such as ``assertion.dataHash.mismatch``, ``claimSignature.mismatch``,
  ``signingCredential.untrusted``); ``manifest.unreadable`` (genmedia's code) when the manifest
  store is too damaged for the SDK to parse, or is only referenced by URL (a remote manifest,
  never fetched here), with the SDK's message in ``error``.

``verified`` is the one-word answer: present, valid and trusted.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import c2pa as _sdk

from provenance.c2pa.certs import load_trust_anchors
from provenance.c2pa.errors import C2paError
from provenance.c2pa.formats import check_image_bytes, check_mime
from provenance.c2pa.manifest import (
    CREATED_ACTION,
    PARAM_GENERATION_ID,
    PARAM_MODEL,
    PARAM_MODEL_VERSION,
    PROVENANCE_LABEL,
)

__all__ = ["TRUST_CODES", "UNREADABLE", "ManifestStatus", "ManifestVerifier", "read_manifest"]

TRUST_CODES = frozenset({"signingCredential.untrusted", "timeStamp.untrusted"})
UNREADABLE = "manifest.unreadable"
_ACTION_LABELS = ("c2pa.actions", "c2pa.actions.v2")


@dataclass(frozen=True)
class ManifestStatus:
    """What an image's C2PA manifest says and whether it holds up (see the module doc)."""

    present: bool
    valid: bool = False
    validation_errors: list[str] = field(default_factory=list)
    trusted: bool | None = None                  # None: no trust anchors were given
    validation_state: str | None = None          # the SDK's verdict: Invalid, Valid or Trusted
    claim_generator: str | None = None           # "genmedia/0.1.0"
    title: str | None = None
    actions: list[dict] = field(default_factory=list)
    digital_source_type: str | None = None       # of the c2pa.created action
    model: str | None = None
    model_version: str | None = None
    generation_id: str | None = None
    watermark_payload_hex: str | None = None
    fingerprint_hex: str | None = None
    signer_common_name: str | None = None        # subject CN of the signing certificate
    issuer: str | None = None                    # its issuer's organization, as the SDK reports
    signing_algorithm: str | None = None
    signed_at: str | None = None                 # RFC 3339, only from a TSA timestamp
    error: str | None = None                     # the SDK's message when it could not parse

    @property
    def verified(self) -> bool:
        """Present, intact and signed under one of the supplied trust anchors."""
        return self.present and self.valid and self.trusted is True


class ManifestVerifier:
    """Reads manifests, checking trust against ``trust_anchors`` when given: PEM text (str or
    bytes), a ``pathlib.Path``, or a list of those (C2paError if none is a certificate).
    Holds only settings, so it is cheap, thread-safe and reusable."""

    def __init__(self, trust_anchors=None):
        self.trust_anchors_pem = None if trust_anchors is None else load_trust_anchors(
            trust_anchors)
        check_trust = self.trust_anchors_pem is not None
        self._settings = {"verify": {
            "verify_after_reading": True, "verify_trust": check_trust,
            "verify_timestamp_trust": check_trust, "ocsp_fetch": False,
            "remote_manifest_fetch": False}}
        if check_trust:
            self._settings["trust"] = {"trust_anchors": self.trust_anchors_pem}

    def read(self, image_bytes: bytes, mime: str) -> ManifestStatus:
        """The manifest status of ``image_bytes`` (a ``mime`` file: see ``formats.SUPPORTED_MIMES``).
        ValueError/TypeError for bad arguments; C2paError if the image itself cannot be parsed
        (e.g. truncated)."""
        mime = check_mime(mime)
        data = check_image_bytes(image_bytes, mime)
        no_trust = None if self.trust_anchors_pem is None else False
        try:
            with _sdk.Context.from_dict(self._settings) as context:
                reader = _sdk.Reader.try_create(mime, io.BytesIO(data), None, context)
                if reader is None:
                    return ManifestStatus(present=False, trusted=no_trust)
                with reader:
                    store = json.loads(reader.json())
        except _sdk.C2paError as e:
            message = str(e)
            if message.startswith("Other: asset could not be parsed"):
                raise C2paError(f"the {mime} image could not be parsed: {message}") from e
            return ManifestStatus(present=True, valid=False, validation_errors=[UNREADABLE],
                                  trusted=no_trust, error=message)
        return _status(store, no_trust)


def read_manifest(image_bytes: bytes, mime: str, trust_anchors=None) -> ManifestStatus:
    """``ManifestVerifier(trust_anchors).read(image_bytes, mime)``."""
    return ManifestVerifier(trust_anchors).read(image_bytes, mime)


def _status(store: dict, no_trust: bool | None) -> ManifestStatus:
    manifest = store.get("manifests", {}).get(store.get("active_manifest") or "")
    state = store.get("validation_state")
    results = (store.get("validation_results") or {}).get("activeManifest")
    if results is not None:
        failures = [item.get("code", "") for item in results.get("failure", [])]
        successes = {item.get("code", "") for item in results.get("success", [])}
    else:                                        # older SDK layout: one flat status list
        failures = [item.get("code", "") for item in store.get("validation_status", [])]
        successes = set()
    if manifest is None:
        return ManifestStatus(present=True, valid=False, trusted=no_trust,
                              validation_errors=failures or [UNREADABLE], validation_state=state,
                              error="the manifest store has no active manifest")
    valid = state != "Invalid" and not [c for c in failures if c not in TRUST_CODES]
    trusted = None if no_trust is None else (
        "signingCredential.trusted" in successes or state == "Trusted")

    actions = [action for assertion in manifest.get("assertions", [])
               if _base_label(assertion.get("label", "")) in _ACTION_LABELS
               for action in (assertion.get("data") or {}).get("actions", [])]
    created = next((a for a in actions if a.get("action") == CREATED_ACTION), None)
    params = (created or {}).get("parameters") or {}
    custom = next((a.get("data") or {} for a in manifest.get("assertions", [])
                   if _base_label(a.get("label", "")) == PROVENANCE_LABEL), {})
    signature = manifest.get("signature_info") or {}
    return ManifestStatus(
        present=True, valid=valid, validation_errors=failures, trusted=trusted,
        validation_state=state, claim_generator=_claim_generator(manifest),
        title=manifest.get("title"), actions=actions,
        digital_source_type=(created or {}).get("digitalSourceType"),
        model=params.get(PARAM_MODEL, custom.get("model")),
        model_version=params.get(PARAM_MODEL_VERSION, custom.get("model_version")),
        generation_id=params.get(PARAM_GENERATION_ID, custom.get("generation_id")),
        watermark_payload_hex=custom.get("watermark_payload_hex"),
        fingerprint_hex=custom.get("fingerprint_hex"),
        signer_common_name=signature.get("common_name"), issuer=signature.get("issuer"),
        signing_algorithm=signature.get("alg"), signed_at=signature.get("time"))


def _base_label(label: str) -> str:
    """An assertion label without the ``__N`` instance suffix the SDK adds to repeats."""
    base, sep, instance = label.rpartition("__")
    return base if sep and instance.isdigit() else label


def _claim_generator(manifest: dict) -> str | None:
    if manifest.get("claim_generator"):          # v1 claims
        return manifest["claim_generator"]
    infos = manifest.get("claim_generator_info") or []
    if not infos or not infos[0].get("name"):
        return None
    first = infos[0]
    return f"{first['name']}/{first['version']}" if first.get("version") else first["name"]
