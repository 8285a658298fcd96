"""Triage: the local ticket classifier, its training and its risk signals."""
