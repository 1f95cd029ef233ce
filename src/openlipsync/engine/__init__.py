"""The lip-sync engine: pure stages with typed data between them (no I/O, no web, no globals).

tracking (face mesh, smoothing, scene cuts) → shapes/calibration → mouth plan (engine.plan) →
library + selection (own-mouth retrieval) → render (warp / retrieval) → blend; report.
"""
