"""The one graph model every reader produces and every consumer takes.

``ModelGraph`` (``model_graph``) is a DAG of layer calls kept in a small
networkx-compatible store (``store``), so reading a file never imports networkx.
"""
from inspector.graph.model_graph import EDGE_FIELDS, NODE_FIELDS, ModelGraph, node_id

__all__ = ["EDGE_FIELDS", "NODE_FIELDS", "ModelGraph", "node_id"]
