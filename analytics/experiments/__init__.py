"""Experiments: the reports and comparisons that chose what production runs.

Each is runnable on its own (``python -m analytics.experiments.<name>``) and writes its
results under ``docs/``. Nothing in production (``api``, ``analytics`` outside this
package) imports them; they may import the pure analytics modules.

    sentiment_report        TF-IDF + logistic regression against SnowNLP and a fastText-like
                            network → docs/sentiment-report.md
    steps_report            the four step-scoring models (PSO-BP among them) → docs/step-scoring.md
    simulate                the loop against fixed and oracle policies → docs/loop-simulation.md
    association_compare     FP-growth against efficient-apriori: same rules, time, peak memory
                            (run by ``python -m bench.association`` and ``bench.jobs``)
    snownlp_models          SnowNLP's sentiment models, for the sentiment report
"""
