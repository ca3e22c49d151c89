#!/usr/bin/env python3
"""Writes a throwaway root CA and C2PA signing certificate, for local development only.

    python scripts/make_c2pa_test_certs.py DIR                    # ES256, valid 30 days
    python scripts/make_c2pa_test_certs.py DIR --alg ed25519 --days 7 --name dev

Writes DIR/<name>-chain.pem (signing certificate; give it to SigningConfig.cert_chain_path),
DIR/<name>-key.pem (its unencrypted private key, mode 0600; SigningConfig.private_key_path) and
DIR/<name>-ca.pem (the root: the trust anchor to pass to read_manifest).  Manifests signed with
these are valid but trusted by nobody else.  Production operators supply their own certificate
from a CA (see provenance/c2pa/certs.py for the profile it must meet).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from provenance.c2pa.dev_chain import make_test_chain  # noqa: E402

ALGS = ("es256", "es384", "ps256", "ed25519")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="output directory (created if missing)")
    parser.add_argument("--alg", choices=ALGS, default="es256", help="signing key algorithm")
    parser.add_argument("--name", default="c2pa-test", help="file name prefix")
    parser.add_argument("--days", type=int, default=30, help="validity in days from now")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error(f"--days must be >= 1, got {args.days}")
    chain, key, ca = make_test_chain(args.directory, alg=args.alg, name=args.name, days=args.days)
    print(f"certificate chain: {chain}\nprivate key:       {key}\ntrust anchor (CA): {ca}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
