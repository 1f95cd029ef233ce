"""The lip-sync engine: pure stages with typed data between them (no I/O, no web, no globals)."""
