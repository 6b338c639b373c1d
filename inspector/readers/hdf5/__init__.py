"""HDF5 metadata (group names, dataset shapes and dtypes, string attributes), never data.

``lite`` (with ``messages``) parses the file in pure Python, bounds-checked; for
HDF5 features Keras never writes, ``snapshot`` reads it with h5py in a child
process so a libhdf5 crash or hang on a corrupt file becomes one error line.
Both give objects with the same small interface (groups, datasets, links, attrs).
"""
