"""Tools the specialists call: business-data lookups and diagnostics checklists."""
