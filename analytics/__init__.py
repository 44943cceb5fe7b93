"""Analytics: pure models and functions on DataFrames and arrays (scikit-learn style
estimators), never importing the service (``api``):

    sentiment     TF-IDF + logistic regression sentiment of Chinese text
    personas      K-means personas and the six-family tag library
    association   association rules in the patent's five steps
    steps         service-step scoring models and the counterfactual scores
    pso           particle swarm optimisation and the BP networks (torch)
    loop          Thompson sampling of reply variants and offers

The jobs that read the database and write results are the service's (``api/jobs/``);
the reports and comparisons that chose these models are in ``analytics/experiments/``.
"""

import logging

# A library's loggers stay quiet until the program configures logging (the scheduler
# does, with api.core.logging); the command line prints what it needs itself.
logging.getLogger(__name__).addHandler(logging.NullHandler())
