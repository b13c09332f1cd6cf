"""The swappable fast backends, installed as ``inverse_ising.backends`` (use them via ``backend=...``)."""
