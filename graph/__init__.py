"""The routing graph: state, nodes, wiring and checkpointer."""
