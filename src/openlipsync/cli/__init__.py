"""The ``openlipsync`` command line."""
