"""The agents: triage (classifier) and the specialists that answer tickets."""
