"""Code that runs inside the Rasa process (bot environment)."""
