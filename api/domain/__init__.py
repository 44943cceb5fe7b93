"""The shop's rules that need no database and no other part of the service: the
lifecycle stages of patent 000 and the satisfaction questionnaire. Everything may use
them; they import nothing of the service."""
