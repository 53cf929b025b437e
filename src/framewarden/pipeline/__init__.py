"""Dedup, batching, the channel worker and its supervisor."""
