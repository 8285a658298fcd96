"""The specialist agents that answer tickets from the knowledge base."""
