"""What the inspector knows about each Keras layer class and op: output shapes and
dtypes (``shapes`` and its per-family rule modules), multiply-accumulates and
activation bytes (``costs``), and Keras's op classes (``op_names``).
"""
