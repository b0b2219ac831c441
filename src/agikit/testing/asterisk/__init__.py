"""A throw-away, loopback-only Asterisk 22 for testing AGI applications against the real thing.

``provision()`` builds (once, cached) a Debian sid chroot holding Asterisk 22; ``Asterisk``
boots an instance of it with AMI and a test dialplan, and places calls into process AGI, EAGI,
FastAGI or Async AGI with a scripted far end (``FarEnd``). ``LoopbackDNS`` serves SRV and address
records on loopback for ``Asterisk(nameserver=...)``, to test ``hagi://``. Needs root (chroot,
mounts, port 53).

Run ``python -m agikit.testing.asterisk --help`` for the command-line interface, or use the
pytest fixtures in ``agikit.testing.asterisk.pytest_plugin``.
"""

from ...dialplan import escape_app_arg
from ._ami import AmiConnection, AmiError, Message
from ._dns import DNSError, LoopbackDNS, Query
from ._instance import (
    Asterisk,
    AsteriskError,
    Call,
    CallResult,
    FarEnd,
    agi_data,
    listening_addresses,
)
from ._provision import Chroot, ProvisionError, provision

__all__ = [
    "AmiConnection",
    "AmiError",
    "Asterisk",
    "AsteriskError",
    "Call",
    "CallResult",
    "Chroot",
    "DNSError",
    "FarEnd",
    "LoopbackDNS",
    "Message",
    "ProvisionError",
    "Query",
    "agi_data",
    "escape_app_arg",
    "listening_addresses",
    "provision",
]
