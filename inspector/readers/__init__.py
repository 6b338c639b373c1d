"""Readers: every way a model comes in, each producing a ModelGraph.

- ``static``: `.keras` zips, unzipped folders and legacy `.h5` files, read with
  json/zipfile (``archive``, ``folder``, ``sniff``) and the HDF5 metadata reader
  (``hdf5/``); the config becomes a graph in ``config_graph`` (call parsing in
  ``inbound``, the untrusted-config checks in ``audit``), weight shapes are
  checked in ``weights``. No TensorFlow, nothing from the file executed; every
  cap is in ``limits``.
- ``live/``: a loaded ``keras.Model`` walked through Keras's own node graph, and
  subclassed models and custom layers traced.
"""
