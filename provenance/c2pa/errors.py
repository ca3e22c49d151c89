"""The one exception type of provenance.c2pa."""

from __future__ import annotations


class C2paError(Exception):
    """Signing or reading a C2PA manifest failed: an unusable certificate, key or trust anchor
    list, or an error reported by the C2PA SDK (its message is kept, the SDK's own exception is
    the ``__cause__``).  Malformed arguments (an unsupported mime type, bytes that are not the
    stated image format, bad ManifestInfo fields) raise ValueError / TypeError instead."""
