"""Reply templates of the general agent: greetings and the polite boundary for out-of-scope asks."""

VERSION = "general-offline-1"

BOUNDARY = (
    "I'm the Lumora support assistant, so I can help with billing and fees, signing in and "
    "account security, problems with the app or your card, and refunds. I can't help with that "
    "request, but if you have a question about your Lumora account, tell me a little more and "
    "I'll take it from there."
)
