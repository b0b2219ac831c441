"""What the fake Asterisk tells an AGI: the ``agi_*`` block and the ``AST_*`` variables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..protocol.environment import Environment

#: Every line of ``setup_env()`` in Asterisk's order, with the fake's defaults: a PJSIP call from
#: 1001 (Alice) to extension 600 in context ``default``. ``agi_type`` follows ``agi_channel``.
DEFAULT_ENVIRONMENT: Mapping[str, str] = {
    "agi_request": "",
    "agi_channel": "PJSIP/alice-00000001",
    "agi_language": "en",
    "agi_type": "",
    "agi_uniqueid": "1700000000.1",
    "agi_version": "22.10.1",
    "agi_callerid": "1001",
    "agi_calleridname": "Alice",
    "agi_callingpres": "0",
    "agi_callingani2": "0",
    "agi_callington": "0",
    "agi_callingtns": "0",
    "agi_dnid": "600",
    "agi_rdnis": "unknown",
    "agi_context": "default",
    "agi_extension": "600",
    "agi_priority": "1",
    "agi_enhanced": "0.0",
    "agi_accountcode": "",
    "agi_threadid": "140000000000001",
}

#: The ``AST_*`` variables Asterisk sets for a process AGI (``launch_script()``), with the
#: directories of a Debian/Ubuntu package install. ``AST_AGI_DIR`` is the fake's ``agi_dir``.
DEFAULT_AST_VARIABLES: Mapping[str, str] = {
    "AST_CONFIG_DIR": "/etc/asterisk",
    "AST_CONFIG_FILE": "/etc/asterisk/asterisk.conf",
    "AST_MODULE_DIR": "/usr/lib/x86_64-linux-gnu/asterisk/modules",
    "AST_SPOOL_DIR": "/var/spool/asterisk",
    "AST_MONITOR_DIR": "/var/spool/asterisk/monitor",
    "AST_VAR_DIR": "/var/lib/asterisk",
    "AST_DATA_DIR": "/usr/share/asterisk",
    "AST_LOG_DIR": "/var/log/asterisk",
    "AST_AGI_DIR": "/var/lib/asterisk/agi-bin",
    "AST_KEY_DIR": "/usr/share/asterisk/keys",
    "AST_RUN_DIR": "/var/run/asterisk",
}


def build_environment(
    *,
    request: str,
    args: Sequence[str],
    overrides: Mapping[str, str | None],
    network_script: str | None = None,
    enhanced: bool = False,
) -> Environment:
    """The block Asterisk would send for this call, in Asterisk's order.

    ``overrides`` keys may omit the ``agi_`` prefix (``{"callerid": "555"}``); a ``None`` value
    drops the line (to test an AGI against a block with a missing line); keys Asterisk never
    sends are added at the end. ``network_script`` (FastAGI) adds ``agi_network: yes`` and,
    when not empty, ``agi_network_script`` first.
    """
    wanted: dict[str, str | None] = {}
    for key, value in overrides.items():
        wanted[key if key.startswith("agi_") else "agi_" + key] = value
    lines: dict[str, str] = {}
    if network_script is not None:
        lines["agi_network"] = "yes"
        if network_script:
            lines["agi_network_script"] = network_script
    lines.update(DEFAULT_ENVIRONMENT)
    lines["agi_request"] = request
    lines["agi_enhanced"] = "1.0" if enhanced else "0.0"
    for number, value in enumerate(args, 1):
        lines[f"agi_arg_{number}"] = value
    channel = wanted.get("agi_channel") or lines["agi_channel"]
    lines["agi_type"] = channel.split("/", 1)[0] if "/" in channel else ""
    for key, value in wanted.items():
        if value is None:
            lines.pop(key, None)
        else:
            lines[key] = value
    return Environment(lines)


def ast_variables(agi_dir: str, overrides: Mapping[str, str] | None) -> dict[str, str]:
    """The ``AST_*`` variables for a process AGI run from ``agi_dir``."""
    variables = dict(DEFAULT_AST_VARIABLES)
    variables["AST_AGI_DIR"] = agi_dir
    variables.update(overrides or {})
    return variables
