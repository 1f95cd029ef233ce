"""Native API routers (``/v1``)."""
