"""Every cap the static reader applies to what a file claims, in one place.

Bounded time and memory whatever the file says: a zip bomb stops at a cap, a
weights file claiming a 4 TB tensor or a million objects is refused before any
work scales with it. The HDF5 child process (``hdf5.snapshot``) applies the same
caps as the parent.
"""

#: Largest JSON member (config.json, metadata.json) we decompress.
MAX_JSON_BYTES = 64 * 1024 * 1024
#: Most values (objects, arrays, scalars) a JSON document may hold; bounds the memory
#: json.loads may use (real configs: NASNetLarge has ~65 000; a 10 000-layer model ~600 000).
MAX_JSON_VALUES = 2_000_000
#: Most members a `.keras` archive may list.
MAX_MEMBERS = 10_000
#: Largest zip central directory we let zipfile parse.
MAX_CENTRAL_DIRECTORY = 16 * 1024 * 1024
#: Deepest JSON nesting accepted (real configs are < 50 deep).
MAX_JSON_DEPTH = 200
#: Largest *compressed* weights member we inflate into memory (Keras stores it uncompressed).
MAX_COMPRESSED_WEIGHTS = 256 * 1024 * 1024

#: Most weight datasets one layer may hold.
MAX_WEIGHT_ENTRIES = 1_000_000
#: Most links/objects a weights file may hold (NASNetLarge: ~6 000).
MAX_H5_OBJECTS = 1_000_000
#: Most elements one weight array may claim (2**40: a 4 TB float32 tensor).
MAX_DATASET_ELEMENTS = 2**40
MAX_DATASET_RANK = 32

#: Most bytes / items of one text attribute read (model_config is the big one).
MAX_ATTR_BYTES = 64 * 1024 * 1024
MAX_ATTR_ITEMS = 1_000_000
