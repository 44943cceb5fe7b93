"""Alembic environment: the database URL and the models come from the service itself."""
from logging.config import fileConfig

from alembic import context

from api.core.config import get_settings
from api.db.base import Base
from api.db.session import make_engine
import api.models  # noqa: F401  (registers every table on Base.metadata)

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

target_metadata = Base.metadata

# Tables that other software creates and owns: autogenerate must neither drop nor create them.
NOT_OURS = {"apscheduler_jobs"}  # APScheduler's job store (api/jobs/scheduler.py)


def include_name(name, type_, parent_names) -> bool:  # noqa: ANN001
    return not (type_ == "table" and name in NOT_OURS)


def _url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True, include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        # Batch mode lets ALTER TABLE work on SQLite by copying the table.
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True, include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
