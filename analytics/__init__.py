"""Analytics: the jobs (``analytics.jobs``) and the one scheduler process that runs them
(``python -m analytics.scheduler``)."""

import logging

# A library's loggers stay quiet until the program configures logging (the scheduler
# does, with api.core.logging); the command line prints what it needs itself.
logging.getLogger(__name__).addHandler(logging.NullHandler())
