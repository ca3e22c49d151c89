"""Signing: embed a C2PA manifest in a generated image, video (MP4) or audio file (WAV, FLAC, MP3).

    signer = C2paSigner(SigningConfig(cert_chain_path="c2pa/chain.pem",
                                      private_key_path="c2pa/key.pem"))   # ES256, no TSA
    signed_png = signer.sign(png_bytes, "image/png", info)               # info: ManifestInfo

The certificate chain and key are read and checked once, in the constructor (see ``certs``;
every problem is a C2paError that names it).  Each ``sign`` builds the manifest
(``manifest.build_manifest``), has the C2PA SDK embed it (PNG: a ``caBX`` chunk before the
image data; JPEG: APP11 segments) together with a SHA-256 hard binding over the rest of the
file, signs the claim (COSE, the chain in ``x5chain``) and lets the SDK re-validate the result
(``verify_after_sign``).  No thumbnail is embedded (it would duplicate the image) and nothing
is fetched from the network unless ``tsa_url`` is set: then the SDK asks that RFC 3161
timestamp authority for a timestamp on every signature, which keeps signatures verifiable after
the certificate expires.

A ``C2paSigner`` holds only bytes and settings: the SDK's native objects are made per call
(well under a millisecond), so one instance can be shared by threads and used after a fork.
Construct it where it is used (e.g. in each replica, from a SigningConfig) rather than
shipping it, and its key, between processes.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import dataclass

import c2pa as _sdk

from provenance.c2pa import certs
from provenance.c2pa.errors import C2paError
from provenance.c2pa.formats import check_image_bytes, check_mime
from provenance.c2pa.manifest import ManifestInfo, build_manifest

__all__ = ["ALGORITHMS", "C2paSigner", "SigningConfig"]

ALGORITHMS = tuple(certs.ALGORITHMS)   # es256 es384 es512 ps256 ps384 ps512 ed25519

_SIGN_SETTINGS = {
    "builder": {"thumbnail": {"enabled": False}},
    "verify": {"verify_after_sign": True, "ocsp_fetch": False, "remote_manifest_fetch": False},
}


@dataclass(frozen=True)
class SigningConfig:
    """Where the signing credential is and how to use it.

    ``cert_chain_path``: PEM file, the signing (end-entity) certificate first, then its
    intermediates (the root may be left out).  ``private_key_path``: PEM file with the
    certificate's unencrypted private key.  ``algorithm``: one of ``ALGORITHMS``
    (case-insensitive; ES256 by default; PS* need an RSA key, Ed25519 an Ed25519 key).
    ``tsa_url``: an http(s) RFC 3161 timestamp authority, or None (default: no timestamp,
    no network)."""

    cert_chain_path: str | os.PathLike
    private_key_path: str | os.PathLike
    algorithm: str = "es256"
    tsa_url: str | None = None

    def __post_init__(self):
        if not isinstance(self.algorithm, str) or self.algorithm.lower() not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(a.upper() for a in ALGORITHMS)}"
                             f", got {self.algorithm!r}")
        object.__setattr__(self, "algorithm", self.algorithm.lower())
        if self.tsa_url is not None and (
                not isinstance(self.tsa_url, str)
                or not self.tsa_url.startswith(("http://", "https://"))
                or len(self.tsa_url) <= len("https://")):
            raise ValueError(f"tsa_url must be an http:// or https:// URL or None, "
                             f"got {self.tsa_url!r}")


class C2paSigner:
    """Signs generated images with one credential.  Construction raises C2paError if the
    chain or key is unreadable, mismatched, expired or outside the C2PA certificate profile."""

    def __init__(self, config: SigningConfig):
        if not isinstance(config, SigningConfig):
            raise TypeError(f"config must be a SigningConfig, got {type(config).__name__}")
        self.config = config
        chain_source = f"certificate chain {str(config.cert_chain_path)!r}"
        chain = certs.parse_certificates(
            certs.read_pem_file(config.cert_chain_path, "certificate chain"), chain_source)
        key = certs.parse_private_key(
            certs.read_pem_file(config.private_key_path, "private key"),
            f"private key file {str(config.private_key_path)!r}")
        certs.check_algorithm(config.algorithm, key)
        certs.check_key_matches(key, chain[0])
        certs.check_signing_certificate(chain[0])
        certs.check_chain(chain)
        self.certificate = chain[0]
        self._chain_pem = certs.certificates_pem(chain)
        self._key_pem = certs.private_key_pem(key)

    @property
    def signer_common_name(self) -> str | None:
        """The signing certificate's subject CN (what readers show as the signer)."""
        return certs.common_name(self.certificate.subject)

    @property
    def not_after(self) -> dt.datetime:
        """When the signing certificate expires (UTC): rotate it before then."""
        return self.certificate.not_valid_after_utc

    def sign(self, image_bytes: bytes, mime: str, info: ManifestInfo, *,
             title: str | None = None) -> bytes:
        """``image_bytes`` (a ``mime`` file: see ``formats.SUPPORTED_MIMES``) with a signed C2PA manifest
        describing ``info`` embedded; the pixels are untouched.  ValueError/TypeError for bad
        arguments, C2paError if the certificate has expired or the SDK fails."""
        mime = check_mime(mime)
        data = check_image_bytes(image_bytes, mime)
        definition = build_manifest(info, mime, title=title)
        if dt.datetime.now(dt.timezone.utc) > self.not_after:
            raise C2paError(f"the signing certificate {certs.describe(self.certificate)} expired "
                            f"on {self.not_after.isoformat()}")
        signer_info = _sdk.C2paSignerInfo(
            self.config.algorithm.encode(), self._chain_pem, self._key_pem,
            self.config.tsa_url.encode() if self.config.tsa_url else None)
        out = io.BytesIO()
        try:
            with _sdk.Context.from_dict(_SIGN_SETTINGS) as context, \
                    _sdk.Signer.from_info(signer_info) as signer, \
                    _sdk.Builder(definition, context=context) as builder:
                builder.sign(signer, mime, io.BytesIO(data), out)
        except _sdk.C2paError as e:
            raise C2paError(f"C2PA signing of a {mime} file failed: {e}") from e
        return out.getvalue()

    def __repr__(self) -> str:
        return (f"C2paSigner({self.config.algorithm.upper()}, signer={self.signer_common_name!r}, "
                f"not_after={self.not_after.isoformat()}, tsa_url={self.config.tsa_url!r})")

