"""``python -m provenance.records upgrade|current|check|revision``: see `provenance.records.schema`."""

import sys

from provenance.records.schema import main

sys.exit(main())
