"""The names the analytics give things, which the service stores and shows: seed 003's
five kinds of customer (personas) and the service steps patent 000 scores. Kept here,
with no dependencies, so the pure analytics and the service's models use one list."""

# The five kinds, in the order of their codes everywhere (Customer.persona).
PERSONAS = ("business_sensitive", "high_value", "high_potential", "needs_guidance", "ordinary")
PERSONA_LABELS = {"business_sensitive": "业务敏感型", "high_value": "高价值型", "high_potential": "高潜力型",
                  "needs_guidance": "需引导型", "ordinary": "普通型"}

# The service steps of a conversation, in their order (StepScore.step).
STEPS = ("greeting", "identification", "answer", "handoff_wait", "resolution", "survey")
STEP_LABELS = {"greeting": "问候", "identification": "需求识别", "answer": "解答",
               "handoff_wait": "转人工等待", "resolution": "问题解决", "survey": "满意度调查"}
