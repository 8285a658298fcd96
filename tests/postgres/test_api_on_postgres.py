"""The HTTP API suite of tests/unit again, with the store, the checkpoints and the leases on PostgreSQL."""

from test_api_auth import *  # noqa: F403
from test_api_conversations import *  # noqa: F403
from test_api_limits import *  # noqa: F403
from test_api_policies import *  # noqa: F403
from test_api_reviews import *  # noqa: F403
