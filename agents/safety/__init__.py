"""Safety filters applied to text before it leaves the service: PII redaction."""
