"""Transports move AGI bytes between Asterisk and the protocol core, and nothing else."""
