"""Provenance: keyed invisible watermarks (provenance.watermark), and, as issue 4 lands,
fingerprints and their index, C2PA manifests, the record store and verification (no Ray)."""
