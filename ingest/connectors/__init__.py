"""Built-in connectors; each module registers itself with `ingest.registry.register`."""
