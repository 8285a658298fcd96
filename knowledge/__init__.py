"""The help-centre knowledge base: articles, embedding, and the Chroma index."""
