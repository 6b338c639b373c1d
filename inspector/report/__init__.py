"""Text and data consumers of a ModelGraph: the summary table (``summary``),
structural diff (``diff``) and JSON/GraphML export (``export``)."""
