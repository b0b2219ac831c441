"""A throw-away, loopback-only Asterisk 22 for testing AGI applications against the real thing.

``provision()`` builds (once, cached) a Debian sid chroot holding Asterisk 22; ``Asterisk``
boots an instance of it with AMI and a test dialplan, and places calls into process AGI, EAGI,
FastAGI or Async AGI with a scripted far end (``FarEnd``); ``fastagi_server`` and
``async_agi_server`` run your app beside it in a background thread. ``LoopbackDNS`` serves SRV
and address records on loopback for ``Asterisk(nameserver=...)``, to test ``hagi://``. Needs
root (chroot, mounts, port 53).

Run ``python -m agikit.testing.asterisk --help`` for the command-line interface, or use the
pytest fixtures in ``agikit.testing.asterisk.pytest_plugin``.
"""

from ...dialplan import escape_app_arg
from ..servers import background, fastagi_server
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
from ._servers import async_agi_server

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
    "async_agi_server",
    "background",
    "escape_app_arg",
    "fastagi_server",
    "listening_addresses",
    "provision",
]
