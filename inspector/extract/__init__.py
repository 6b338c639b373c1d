"""Feature extraction on live models: submodels cut at intermediate layers
(``submodel``), new heads grafted on (``graft``), and features computed over data
files (``features``, reading ``datasources``), all addressed through the ModelGraph."""
