"""The secrets provenance needs, from the environment (never from config files).

    GENMEDIA_WATERMARK_KEY       hex, >= 16 bytes: keys the invisible watermark
    GENMEDIA_RECORD_KEY          hex, >= 16 bytes: keys prompt HMACs and watermark payload ids
    GENMEDIA_C2PA_CERT_CHAIN     path to the PEM signing certificate chain (leaf first, no root)
    GENMEDIA_C2PA_PRIVATE_KEY    path to the PEM private key of the signing certificate
    GENMEDIA_C2PA_TRUST_ANCHORS  optional path to PEM roots that Verify trusts (else: our issuer)

On Kubernetes these come from Secrets (keys as env values, certificate files mounted). For the
embedded default only, `dev_dir` lets missing ones be generated once and kept there (random keys,
a throwaway CA and signing certificate), with a warning: fine on a laptop, never in production
(a lost dev key means old watermarks cannot be read).
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

logger = logging.getLogger("genmedia.provenance")

WATERMARK_KEY = "GENMEDIA_WATERMARK_KEY"
RECORD_KEY = "GENMEDIA_RECORD_KEY"
C2PA_CERT_CHAIN = "GENMEDIA_C2PA_CERT_CHAIN"
C2PA_PRIVATE_KEY = "GENMEDIA_C2PA_PRIVATE_KEY"
C2PA_TRUST_ANCHORS = "GENMEDIA_C2PA_TRUST_ANCHORS"
MIN_KEY_BYTES = 16


class SecretError(ValueError):
    """A secret is missing or malformed; the message names the environment variable."""


@dataclass(frozen=True)
class ProvenanceKeys:
    watermark_key: bytes
    record_key: bytes
    c2pa_cert_chain: Path
    c2pa_private_key: Path
    c2pa_trust_anchors: Path | None
    dev: bool = False  # True when anything came from the dev directory

    def __repr__(self) -> str:  # never print key material
        return f"ProvenanceKeys(c2pa_cert_chain={str(self.c2pa_cert_chain)!r}, dev={self.dev})"


def _hex_key(name: str, value: str) -> bytes:
    try:
        key = bytes.fromhex(value.strip())
    except ValueError:
        raise SecretError(f"{name}: must be hex (e.g. `openssl rand -hex 32`)") from None
    if len(key) < MIN_KEY_BYTES:
        raise SecretError(f"{name}: must be at least {MIN_KEY_BYTES} bytes ({2 * MIN_KEY_BYTES} hex digits)")
    return key


def _dev_key(dev_dir: Path, name: str) -> bytes:
    path = dev_dir / f"{name.lower()}.hex"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
        logger.warning("generated a development %s in %s: set %s in production", name, path, name)
    return _hex_key(f"{name} (from {path})", path.read_text())


def _path(name: str, value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        raise SecretError(f"{name}: {path} is not a readable file")
    return path


def load_keys(env: Mapping[str, str] | None = None, dev_dir: Path | None = None) -> ProvenanceKeys:
    """The keys from ``env`` (default os.environ); missing ones from ``dev_dir`` when given.
    Raises SecretError naming the variable when one is missing (and no dev_dir) or malformed."""
    env = os.environ if env is None else env
    dev = False

    def need(name: str) -> str:
        value = env.get(name, "")
        if not value and dev_dir is None:
            raise SecretError(f"{name} is not set (see provenance/keys.py; Kubernetes: a Secret)")
        return value

    if dev_dir is not None:
        dev_dir.mkdir(parents=True, exist_ok=True)
    values = {}
    for name in (WATERMARK_KEY, RECORD_KEY):
        raw = need(name)
        if raw:
            values[name] = _hex_key(name, raw)
        else:
            values[name] = _dev_key(dev_dir, name)
            dev = True
    chain, key = need(C2PA_CERT_CHAIN), need(C2PA_PRIVATE_KEY)
    anchors = env.get(C2PA_TRUST_ANCHORS, "")
    if chain and key:
        chain_path, key_path = _path(C2PA_CERT_CHAIN, chain), _path(C2PA_PRIVATE_KEY, key)
        anchors_path = _path(C2PA_TRUST_ANCHORS, anchors) if anchors else None
    elif chain or key:
        missing = C2PA_PRIVATE_KEY if chain else C2PA_CERT_CHAIN
        raise SecretError(f"{missing} is not set, but its pair is: set both or neither")
    else:
        from provenance.c2pa.dev_chain import make_test_chain

        chain_path, key_path, anchors_path = (dev_dir / "dev-chain.pem", dev_dir / "dev-key.pem",
                                              dev_dir / "dev-ca.pem")
        if not (chain_path.exists() and key_path.exists() and anchors_path.exists()):
            chain_path, key_path, anchors_path = make_test_chain(dev_dir, name="dev", days=3650)
            key_path.chmod(0o600)
            logger.warning("generated a development C2PA signing certificate in %s: set %s and %s in "
                           "production", dev_dir, C2PA_CERT_CHAIN, C2PA_PRIVATE_KEY)
        dev = True
    return ProvenanceKeys(values[WATERMARK_KEY], values[RECORD_KEY], chain_path, key_path, anchors_path, dev)
