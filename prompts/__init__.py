"""Prompt and reply templates, one module per agent, each with a version string."""
