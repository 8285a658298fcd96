"""Reply templates of the offline specialists: extractive answers framed with their citations."""

VERSION = "specialists-offline-1"

# The body is quoted passages only; the framing below is the only text we add around them.
ANSWER = "{body}\n\nSource: {sources}"
SOURCE = "{title} ({url})"
SECONDARY = "About your other question: {passage}"
