"""Retention and erasure over HTTP again, with the store, the checkpoints and the leases on PostgreSQL."""

from test_api_erasure import *  # noqa: F403
from test_api_retention import *  # noqa: F403
