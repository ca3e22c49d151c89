"""Retention of generation parameters: purge them once they are older than the period.

    purge_job(store)                      # one run; returns how many generations were purged

Meant to run daily as a Kubernetes CronJob (one run, then exit)::

    python -m provenance.records.retention --url URL --days 90

``--url`` defaults to ``$GENMEDIA_RECORDS_URL`` (so a password can come from a Secret instead
of the command line). Prints the count on stdout; exits 1 (message on stderr, no credentials)
when the database is unavailable, so the CronJob's retry policy applies. The job never
migrates the schema; the service does that at start.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime, timedelta

from genmedia.errors import GenMediaError
from provenance.records.schema import DEFAULT_URL, URL_ENV
from provenance.records.store import RecordStore

logger = logging.getLogger("provenance.records.retention")

DEFAULT_RETENTION_DAYS = 90


def purge_job(store: RecordStore, retention_days: int = DEFAULT_RETENTION_DAYS,
              now: datetime | None = None) -> int:
    """Purge the parameters of generations older than ``retention_days``; return the count."""
    if not isinstance(retention_days, int) or isinstance(retention_days, bool) or retention_days < 1:
        raise ValueError(f"retention_days must be a positive int, got {retention_days!r}")
    now = datetime.now(UTC) if now is None else now
    count = store.purge_parameters(now=now, retention=timedelta(days=retention_days))
    logger.info("retention: purged the parameters of %d generations older than %d days "
                "(store %s)", count, retention_days, store.url)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m provenance.records.retention",
        description="Purge generation parameters older than the retention period (one run).")
    parser.add_argument("--url", default=None,
                        help=f"database URL (default: ${URL_ENV}, else {DEFAULT_URL})")
    parser.add_argument("--days", type=int, default=DEFAULT_RETENTION_DAYS,
                        help=f"retention period in days (default {DEFAULT_RETENTION_DAYS})")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = args.url or os.environ.get(URL_ENV) or DEFAULT_URL
    try:
        with RecordStore.open(url, migrate=False) as store:
            count = purge_job(store, args.days)
    except (GenMediaError, RuntimeError, ValueError) as error:
        print(f"error: {getattr(error, 'message', error)}", file=sys.stderr)
        return 1
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
