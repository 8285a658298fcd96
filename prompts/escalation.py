"""Messages of the human handoff: what the customer is told while a person takes over."""

VERSION = "escalation-2"

HANDOFF_NOTICE = (
    "Thanks, I've passed your message to a member of our support team. They have the full "
    "conversation and will reply here."
)
STILL_WAITING = (
    "Thanks, I've added this to your conversation. A member of our support team already has it "
    "and will reply here."
)
CLOSED = "This conversation is now closed. If you need anything else, just send a new message."
ACTION_DONE = "{draft}\n\nUpdate: a colleague approved it and it is done (reference {reference})."
ACTION_REJECTED = "{draft}\n\nUpdate: a colleague reviewed it, but it could not be carried out: {detail}"
