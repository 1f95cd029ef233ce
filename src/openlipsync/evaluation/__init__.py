"""The project's own measurement: quality eval (cross-segment reconstruction) and speed bench."""
