"""The environment block Asterisk sends at the start of every AGI session.

The code lives in :mod:`agikit._protocol`, with the rest of the protocol core: process AGI
imports it on every call, and pays for each module on top of its code.
"""

from .._protocol import Environment, environment_from_dict

__all__ = ["Environment", "environment_from_dict"]
