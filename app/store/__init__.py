"""The app store: conversations, messages, reviews, keys, events and idempotency records in SQL."""
