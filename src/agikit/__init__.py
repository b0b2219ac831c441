"""agikit: the Python toolkit for Asterisk's AGI family (process AGI, EAGI, FastAGI, Async AGI)."""

__version__ = "0.1.0.dev0"
