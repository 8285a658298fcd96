"""LLM mode: the model factory, structured output, and the guard every model call goes through."""
