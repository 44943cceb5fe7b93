"""The demo writes through the service's models: the same migrated database as tests/api."""
from tests.api.conftest import db, settings_env  # noqa: F401 - fixtures
