"""genmedia: the public API (generated protobuf code), the error taxonomy, the client and CLI.

Nothing in this package imports Ray, so a client or a notebook can use it alone.
"""

__version__ = "0.1.0"
