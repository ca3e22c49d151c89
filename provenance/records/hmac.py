"""Keyed digests kept in records instead of secrets: the prompt's HMAC and watermark payloads.

    prompt_hmac(key, tenant, prompt)            # 64 hex digits; the prompt itself is not kept
    watermark_payload(key, generation_id, 0)    # 8 bytes embedded in artifact 0's watermark

Both are HMAC-SHA256 under a secret key (>= 16 bytes, from configuration) with a distinct
domain label each, so one key can serve both without one value telling anything about the
other. Without the key a prompt HMAC cannot be tested against guessed prompts, and a payload
is 64 pseudo-random bits that say nothing about the generation until it is looked up in the
record store. Inputs are length-prefixed, so no two (tenant, prompt) pairs share a message;
prompts are NFC-normalised, so the same visible text always gives the same HMAC.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
import unicodedata
import uuid

MIN_KEY_BYTES = 16
_PROMPT_DOMAIN = b"genmedia-prompt-hmac/v1\x00"
_PAYLOAD_DOMAIN = b"genmedia-wm-payload/v1\x00"
MIN_PAYLOAD_BYTES = 4
MAX_PAYLOAD_BYTES = 32


def _check_key(key: bytes) -> bytes:
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise TypeError(f"HMAC key must be bytes, got {type(key).__name__}")
    key = bytes(key)
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"HMAC key must be at least {MIN_KEY_BYTES} bytes (got {len(key)}); "
                         "use a random secret from configuration")
    return key


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def prompt_hmac(key: bytes, tenant: str, prompt: str) -> str:
    """HMAC-SHA256 of (tenant, NFC(prompt)) under ``key``, as 64 lowercase hex digits.

    Scoped by tenant: the same prompt from two tenants gives unrelated values."""
    key = _check_key(key)
    if not isinstance(tenant, str) or not isinstance(prompt, str):
        raise TypeError("tenant and prompt must be str")
    message = (_PROMPT_DOMAIN + _field(tenant.encode("utf-8"))
               + _field(unicodedata.normalize("NFC", prompt).encode("utf-8")))
    return _hmac.new(key, message, hashlib.sha256).hexdigest()


def watermark_payload(key: bytes, generation_id: str, index: int, nbytes: int = 8) -> bytes:
    """The ``nbytes``-byte keyed id of artifact ``index`` of ``generation_id``.

    Deterministic (the same artifact always gets the same payload, so an embed can be
    repeated), unique in practice (64 bits: about n^2 / 2^65 collision odds among n
    artifacts; the store refuses a collision rather than misattribute), and meaningless
    without the record store. ``generation_id`` is any UUID form; ``index`` >= 0."""
    key = _check_key(key)
    if not isinstance(nbytes, int) or isinstance(nbytes, bool) or not (
            MIN_PAYLOAD_BYTES <= nbytes <= MAX_PAYLOAD_BYTES):
        raise ValueError(f"nbytes must be an int from {MIN_PAYLOAD_BYTES} to "
                         f"{MAX_PAYLOAD_BYTES}, got {nbytes!r}")
    if not isinstance(index, int) or isinstance(index, bool) or not (0 <= index < 2**32):
        raise ValueError(f"index must be an int from 0 to 2**32 - 1, got {index!r}")
    try:
        gid = generation_id if isinstance(generation_id, uuid.UUID) else uuid.UUID(generation_id)
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"generation_id must be a UUID, got {generation_id!r:.80}") from None
    message = _PAYLOAD_DOMAIN + gid.bytes + index.to_bytes(4, "big")
    return _hmac.new(key, message, hashlib.sha256).digest()[:nbytes]
