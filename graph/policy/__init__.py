"""The routing policy engine: versioned YAML documents that decide path, priority and SLA per ticket."""
