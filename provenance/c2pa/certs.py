"""Certificates, keys and trust anchors, checked up front with ``cryptography``.

The C2PA SDK rejects a bad signing credential only when it signs, and then with messages such
as "the certificate is invalid".  These checks run once, when a signer is configured, and say
what is wrong.  ``check_signing_certificate`` mirrors the end-entity profile that c2pa-rs
enforces (C2PA 2.x section 14.5, c2pa-rs ``check_end_entity_certificate_profile``):

* X.509 v3, valid now, signed with ECDSA-SHA256/384/512, SHA256/384/512-RSA, RSASSA-PSS or
  Ed25519; the key is EC P-256/P-384/P-521, RSA >= 2048 bits, or Ed25519;
* not a CA (basicConstraints cA=false), not self-signed, no issuer/subject unique ids;
* keyUsage present with digitalSignature and without keyCertSign;
* extendedKeyUsage present, without anyExtendedKeyUsage, with at least one of
  ``SIGNING_EKUS`` (the claim-signing entries of the SDK's default trust configuration), and
  not mixing timeStamping or OCSPSigning with anything else;
* an authorityKeyIdentifier; no critical extension the SDK does not understand.

The chain (a PEM file: the signing certificate first, then each issuer) must be in order, each
certificate signed by the next, all valid now.  The root (trust anchor) may be left out, as
C2PA recommends.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Iterable

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, SignatureAlgorithmOID

from provenance.c2pa.errors import C2paError

DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")         # id-kp-documentSigning
MS_C2PA_SIGNING = x509.ObjectIdentifier("1.3.6.1.4.1.311.76.59.1.9")
C2PA_CLAIM_SIGNING = x509.ObjectIdentifier("1.3.6.1.4.1.62558.2.1")   # c2pa-kp-claimSigning
SIGNING_EKUS = frozenset({ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING,
                          MS_C2PA_SIGNING, C2PA_CLAIM_SIGNING})

# algorithm name (lower case) -> (key check, what it needs)
ALGORITHMS = {
    "es256": (lambda k: isinstance(k, ec.EllipticCurvePrivateKey)
              and isinstance(k.curve, ec.SECP256R1), "an EC P-256 key"),
    "es384": (lambda k: isinstance(k, ec.EllipticCurvePrivateKey)
              and isinstance(k.curve, ec.SECP384R1), "an EC P-384 key"),
    "es512": (lambda k: isinstance(k, ec.EllipticCurvePrivateKey)
              and isinstance(k.curve, ec.SECP521R1), "an EC P-521 key"),
    "ps256": (lambda k: isinstance(k, rsa.RSAPrivateKey), "an RSA key"),
    "ps384": (lambda k: isinstance(k, rsa.RSAPrivateKey), "an RSA key"),
    "ps512": (lambda k: isinstance(k, rsa.RSAPrivateKey), "an RSA key"),
    "ed25519": (lambda k: isinstance(k, ed25519.Ed25519PrivateKey), "an Ed25519 key"),
}

_CERT_SIGNATURE_ALGS = frozenset({
    SignatureAlgorithmOID.ECDSA_WITH_SHA256, SignatureAlgorithmOID.ECDSA_WITH_SHA384,
    SignatureAlgorithmOID.ECDSA_WITH_SHA512, SignatureAlgorithmOID.RSA_WITH_SHA256,
    SignatureAlgorithmOID.RSA_WITH_SHA384, SignatureAlgorithmOID.RSA_WITH_SHA512,
    SignatureAlgorithmOID.RSASSA_PSS, SignatureAlgorithmOID.ED25519})
_EC_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
# Extensions c2pa-rs understands; any other one marked critical makes it reject the certificate.
_KNOWN_EXTENSIONS = frozenset({
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER, ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    ExtensionOID.KEY_USAGE, ExtensionOID.CERTIFICATE_POLICIES, ExtensionOID.POLICY_MAPPINGS,
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.BASIC_CONSTRAINTS,
    ExtensionOID.NAME_CONSTRAINTS, ExtensionOID.POLICY_CONSTRAINTS,
    ExtensionOID.EXTENDED_KEY_USAGE, ExtensionOID.CRL_DISTRIBUTION_POINTS,
    ExtensionOID.INHIBIT_ANY_POLICY, ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
    ExtensionOID.CRL_NUMBER})


def describe(cert: x509.Certificate) -> str:
    """``subject (serial 0x...)``, for messages."""
    return f"{cert.subject.rfc4514_string() or '<empty subject>'} (serial {cert.serial_number:#x})"


def common_name(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(values[0].value) if values else None


def read_pem_file(path: str | os.PathLike, what: str) -> bytes:
    """The bytes of ``path``; C2paError naming ``what`` and the OS error if unreadable."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} path must be a str or a path, got {type(path).__name__}")
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise C2paError(f"cannot read the {what} {str(path)!r}: {e.strerror or e}") from e


def parse_certificates(pem: bytes, source: str) -> list[x509.Certificate]:
    """Every certificate in PEM text ``pem`` (in order); C2paError if there is none."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as e:
        raise C2paError(f"{source} holds no readable PEM certificate ({e})") from e
    return certs


def parse_private_key(pem: bytes, source: str):
    """The private key in PEM text ``pem`` (PKCS#8, SEC1 or PKCS#1, unencrypted)."""
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except TypeError as e:           # "Password was not given but private key is encrypted"
        raise C2paError(f"{source} is an encrypted private key; the C2PA SDK needs it "
                        "unencrypted (decrypt it into a file readable only by the service)") from e
    except (ValueError, UnsupportedAlgorithm) as e:
        raise C2paError(f"{source} holds no readable PEM private key ({e})") from e


def private_key_pem(key) -> bytes:
    """``key`` as unencrypted PKCS#8 PEM, the form the C2PA SDK reads."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def certificates_pem(certs: Iterable[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def check_algorithm(algorithm: str, key) -> None:
    """C2paError unless ``key`` can sign with ``algorithm`` (a key of ALGORITHMS)."""
    fits, needs = ALGORITHMS[algorithm]
    if not fits(key):
        raise C2paError(f"algorithm {algorithm.upper()} needs {needs}, but the private key is "
                        f"{_key_kind(key)}")
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
        raise C2paError(f"RSA keys must be at least 2048 bits for C2PA, got {key.key_size}")


def check_key_matches(key, cert: x509.Certificate) -> None:
    """C2paError unless ``key`` is the private half of ``cert``'s public key."""
    raw = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*raw) != cert.public_key().public_bytes(*raw):
        raise C2paError(f"the private key does not belong to the signing certificate "
                        f"{describe(cert)} (the first certificate of the chain)")


def _key_kind(key) -> str:
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return f"an EC {key.curve.name} key"
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"a {key.key_size}-bit RSA key"
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "an Ed25519 key"
    return f"a {type(key).__name__}"


def _ext(cert: x509.Certificate, oid):
    try:
        return cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None


def _check_validity(cert: x509.Certificate, now: dt.datetime, role: str) -> None:
    if now < cert.not_valid_before_utc:
        raise C2paError(f"the {role} {describe(cert)} is not valid before "
                        f"{cert.not_valid_before_utc.isoformat()}")
    if now > cert.not_valid_after_utc:
        raise C2paError(f"the {role} {describe(cert)} expired on "
                        f"{cert.not_valid_after_utc.isoformat()}")


def check_signing_certificate(cert: x509.Certificate, now: dt.datetime | None = None) -> None:
    """C2paError naming the first way ``cert`` breaks the C2PA end-entity profile."""
    now = now or dt.datetime.now(dt.timezone.utc)
    who = f"signing certificate {describe(cert)}"

    def bad(why: str) -> C2paError:
        return C2paError(f"the {who} does not meet the C2PA certificate profile: {why}")

    if cert.version != x509.Version.v3:
        raise bad(f"it is X.509 {cert.version.name}, C2PA needs v3")
    _check_validity(cert, now, "signing certificate")
    if cert.signature_algorithm_oid not in _CERT_SIGNATURE_ALGS:
        raise bad(f"it is signed with {cert.signature_algorithm_oid.dotted_string}, which C2PA "
                  "does not allow (ECDSA, RSA, RSA-PSS with SHA-256/384/512, or Ed25519)")
    public = cert.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey) and not isinstance(public.curve, _EC_CURVES):
        raise bad(f"its EC curve {public.curve.name} is not P-256, P-384 or P-521")
    if isinstance(public, rsa.RSAPublicKey):
        if public.key_size < 2048:
            raise bad(f"its RSA key has {public.key_size} bits, C2PA needs at least 2048")
        exponent = public.public_numbers().e
        if exponent < 3 or exponent % 2 == 0:
            raise bad(f"its RSA public exponent {exponent} is invalid")
    if not isinstance(public, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey,
                               ed25519.Ed25519PublicKey)):
        raise bad(f"its key is {_key_kind(public)}; C2PA needs EC, RSA or Ed25519")

    constraints = _ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
    if constraints is not None and constraints.value.ca:
        raise bad("it is a CA certificate (basicConstraints cA=true); sign with an end-entity "
                  "certificate issued by the CA")
    if cert.issuer == cert.subject:
        raise bad("it is self-signed (issuer == subject); C2PA needs a certificate issued by "
                  "a CA")

    key_usage = _ext(cert, ExtensionOID.KEY_USAGE)
    if key_usage is None:
        raise bad("it has no keyUsage extension (needs digitalSignature)")
    if not key_usage.value.digital_signature:
        raise bad("its keyUsage lacks digitalSignature")
    if key_usage.value.key_cert_sign:
        raise bad("its keyUsage has keyCertSign, which an end-entity certificate must not")

    eku = _ext(cert, ExtensionOID.EXTENDED_KEY_USAGE)
    if eku is None:
        raise bad("it has no extendedKeyUsage extension (needs emailProtection or "
                  "documentSigning 1.3.6.1.5.5.7.3.36)")
    usages = set(eku.value)
    if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages:
        raise bad("its extendedKeyUsage contains anyExtendedKeyUsage, which C2PA forbids")
    if not usages & SIGNING_EKUS:
        raise bad("its extendedKeyUsage has none of emailProtection, documentSigning "
                  "(1.3.6.1.5.5.7.3.36), MS C2PA signing or c2pa-kp-claimSigning, got "
                  + ", ".join(sorted(u.dotted_string for u in usages)))
    special = usages & {ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.OCSP_SIGNING}
    if special and len(usages) > 1:
        raise bad("its extendedKeyUsage mixes timeStamping/OCSPSigning with other usages")

    if _ext(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER) is None:
        raise bad("it has no authorityKeyIdentifier extension")
    unknown = [e.oid.dotted_string for e in cert.extensions
               if e.critical and e.oid not in _KNOWN_EXTENSIONS]
    if unknown:
        raise bad(f"it has critical extensions the C2PA SDK does not support: {unknown}")


def check_chain(chain: list[x509.Certificate], now: dt.datetime | None = None) -> None:
    """C2paError unless each certificate is issued (and signed) by the next and all are valid
    now.  ``chain[0]`` is checked separately by ``check_signing_certificate``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    for i, (cert, issuer) in enumerate(zip(chain, chain[1:])):
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature) as e:
            raise C2paError(
                f"certificate chain out of order or incomplete: certificate {i} "
                f"{describe(cert)} is not issued by certificate {i + 1} {describe(issuer)} "
                f"({e or type(e).__name__}); list the signing certificate first, then each "
                "issuer") from e
        _check_validity(issuer, now, f"chain certificate {i + 1}")


def load_trust_anchors(anchors) -> str:
    """PEM text of one or more trust anchor certificates, from PEM text (str or bytes), a path
    (``pathlib.Path`` / ``os.PathLike``) or a list of those; C2paError if none is usable."""
    items = list(anchors) if isinstance(anchors, (list, tuple)) else [anchors]
    if not items:
        raise C2paError("the trust anchor list is empty")
    certs: list[x509.Certificate] = []
    for item in items:
        if isinstance(item, os.PathLike):
            pem, source = read_pem_file(item, "trust anchor file"), f"trust anchor file {item}"
        elif isinstance(item, (str, bytes)):
            pem = item.encode() if isinstance(item, str) else item
            source = "the trust anchor PEM text"
            if b"-----BEGIN CERTIFICATE-----" not in pem:
                raise C2paError("a trust anchor given as str/bytes must be PEM text with "
                                "'-----BEGIN CERTIFICATE-----' (pass a pathlib.Path for a file)")
        else:
            raise TypeError("trust anchors must be PEM text, a path or a list of those, got "
                            f"{type(item).__name__}")
        certs.extend(parse_certificates(pem, source))
    return certificates_pem(certs).decode("ascii")
