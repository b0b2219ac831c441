"""The configuration files of a harness Asterisk: loopback only, a fixed module list, and the
dialplan contexts that tests originate calls into.

Paths are those seen inside the chroot: every instance bind-mounts its own state directory at
``INSTANCE_DIR`` in a private mount namespace, so instances sharing one chroot never collide.
"""

from __future__ import annotations

INSTANCE_DIR = "/agikit/instance"
SOURCE_DIR = "/agikit/src"
AGI_BIN_DIR = "/agikit/agi-bin"

# autoload = no: Debian's default would load ~350 modules, some of which listen on 0.0.0.0.
MODULES = (
    "pbx_config",
    "res_speech",
    "res_agi",
    "res_timing_timerfd",
    "res_musiconhold",
    "res_clioriginate",
    "res_convert",
    "app_playback",
    "app_senddtmf",
    "app_echo",
    "app_verbose",
    "app_record",
    "app_read",
    "app_stack",
    "app_exec",
    "app_originate",
    "app_dumpchan",
    "app_userevent",
    "app_milliwatt",
    "app_softhangup",
    "app_dial",
    "bridge_simple",
    "bridge_softmix",
    "format_gsm",
    "format_wav",
    "format_wav_gsm",
    "format_pcm",
    "format_sln",
    "codec_gsm",
    "codec_ulaw",
    "codec_alaw",
    "codec_a_mu",
    "codec_resample",
    "func_strings",
    "func_logic",
    "func_channel",
    "func_callerid",
    "func_global",
    "func_math",
    "func_cut",
    "func_hangupcause",
    "func_uri",
    "func_db",
)

# Context name -> the application line that hands the call to AGI. ${AGIKIT_AGI_DATA} holds the
# escaped argument string (script or URL, then arguments) built by the Python side.
AGI_CONTEXTS = {
    "agikit-process": "AGI(${AGIKIT_AGI_DATA})",
    "agikit-eagi": "EAGI(${AGIKIT_AGI_DATA})",
    "agikit-fastagi": "AGI(${AGIKIT_AGI_DATA})",
    "agikit-async": "AGI(${AGIKIT_AGI_DATA})",
}

# Far-end steps: name -> the dialplan run with the step's argument as ${ARG1}.
FAR_END_STEPS = {
    "answer": "Answer()",
    "wait": "Wait(${ARG1})",
    "play": "Playback(${ARG1})",
    "dtmf": "SendDTMF(${ARG1})",
    "hangup": "Hangup()",
    "echo": "Echo()",
    "tone": "Milliwatt()",
    # A second process-AGI script on the far end (the ;1 half), e.g. to exchange text frames
    # with the AGI side: the argument is the script (relative names are in agi-bin).
    "agi": "AGI(${ARG1})",
}


def asterisk_conf(module_dir: str) -> str:
    return f"""\
[directories]
astetcdir => {INSTANCE_DIR}/etc
astmoddir => {module_dir}
astvarlibdir => /var/lib/asterisk
astdbdir => {INSTANCE_DIR}/db
astkeydir => {INSTANCE_DIR}/keys
astdatadir => /usr/share/asterisk
astagidir => {AGI_BIN_DIR}
astspooldir => {INSTANCE_DIR}/spool
astrundir => {INSTANCE_DIR}/run
astlogdir => {INSTANCE_DIR}/log
astsbindir => /usr/sbin
astcachedir => {INSTANCE_DIR}/cache

[options]
verbose = 3
maxfiles = 16384
transmit_silence = no
hideconnect = yes
"""


def modules_conf() -> str:
    loads = "\n".join(f"load => {name}.so" for name in MODULES)
    return f"[modules]\nautoload = no\n{loads}\n"


def manager_conf(port: int, username: str, secret: str) -> str:
    return f"""\
[general]
enabled = yes
webenabled = no
port = {port}
bindaddr = 127.0.0.1
displayconnects = no
allowmultiplelogin = yes
timestampevents = no
authtimeout = 10

[{username}]
secret = {secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = all
write = all
writetimeout = 10000
"""


def logger_conf() -> str:
    return """\
[general]
dateformat = %F %T.%3q

[logfiles]
full => notice,warning,error,verbose,dtmf
"""


def musiconhold_conf() -> str:
    return """\
[default]
mode = files
directory = /usr/share/asterisk/sounds/en
sort = alpha
"""


def extensions_conf() -> str:
    parts = [
        "[general]",
        "static = yes",
        "writeprotect = yes",
        "autofallthrough = yes",
        "",
    ]
    for context, application in AGI_CONTEXTS.items():
        parts += [
            f"[{context}]",
            "exten => s,1,UserEvent(AgikitCallStart,CallId: ${AGIKIT_CALL_ID})",
            f" same => n,{application}",
            " same => n,Set(AGIKIT_AFTER_AGI=reached)",
            " same => n,Hangup()",
            "exten => h,1,Gosub(agikit-report,s,1)",
            "",
        ]
    parts += [
        # Sends one UserEvent per variable named in AGIKIT_REPORT_VARS (&-separated), then the
        # final AgikitCallEnd. Values are URI-encoded so that any byte survives the AMI header.
        "[agikit-report]",
        "exten => s,1,Set(LOCAL(count)=${FIELDQTY(AGIKIT_REPORT_VARS,&)})",
        " same => n,Set(LOCAL(i)=1)",
        " same => n(next),GotoIf($[${LEN(${AGIKIT_REPORT_VARS})} = 0 | ${i} > ${count}]?done)",
        " same => n,Set(LOCAL(name)=${CUT(AGIKIT_REPORT_VARS,&,${i})})",
        " same => n,UserEvent(AgikitVar,CallId: ${AGIKIT_CALL_ID},"
        "Name: ${name},Value: ${URIENCODE(${${name}})})",
        " same => n,Set(LOCAL(i)=$[${i} + 1])",
        " same => n,Goto(next)",
        " same => n(done),UserEvent(AgikitCallEnd,CallId: ${AGIKIT_CALL_ID},"
        "AGISTATUS: ${AGISTATUS},AfterAgi: ${AGIKIT_AFTER_AGI},HangupCause: ${HANGUPCAUSE})",
        " same => n,Return()",
        "",
        # The far end (the ;1 half of the Local channel) runs the &-separated steps in
        # AGIKIT_FAR, each "name" or "name:argument", then waits for the AGI side to hang up.
        "[agikit-far]",
        "exten => s,1,Set(AGIKIT_FAR_COUNT=${FIELDQTY(AGIKIT_FAR,&)})",
        " same => n,Set(AGIKIT_FAR_I=1)",
        " same => n(next),GotoIf($[${LEN(${AGIKIT_FAR})} = 0"
        " | ${AGIKIT_FAR_I} > ${AGIKIT_FAR_COUNT}]?idle)",
        " same => n,Set(AGIKIT_FAR_STEP=${CUT(AGIKIT_FAR,&,${AGIKIT_FAR_I})})",
        " same => n,Gosub(agikit-far-${CUT(AGIKIT_FAR_STEP,:,1)},s,1"
        "(${CUT(AGIKIT_FAR_STEP,:,2-)}))",
        " same => n,Set(AGIKIT_FAR_I=$[${AGIKIT_FAR_I} + 1])",
        " same => n,Goto(next)",
        " same => n(idle),Wait(3600)",
        " same => n,Hangup()",
        "",
    ]
    # Targets for Dial() from an AGI (EXEC Dial Local/<exten>@agikit-dial): how the callee acts.
    parts += [
        "[agikit-dial]",
        "exten => answer,1,Answer()",
        " same => n,Wait(3600)",
        "exten => busy,1,Busy(10)",
        "exten => congestion,1,Congestion(10)",
        "exten => ring,1,Ringing()",
        " same => n,Wait(3600)",
        "exten => hangup,1,Answer()",
        " same => n,Wait(1)",
        " same => n,Hangup()",
        "",
    ]
    # A subroutine context for GOSUB from an AGI: each extension shows one way a subroutine ends.
    parts += [
        "[agikit-sub]",
        "exten => s,1,Set(AGIKIT_SUB_ARGS=${ARG1}|${ARG2}|${ARGC})",
        " same => n,Return(ret-${ARG1})",
        " same => n(second),Return(label-${ARG1})",
        "exten => fall,1,NoOp(no Return: falls off the end)",
        "exten => hangup,1,Hangup()",
        "",
    ]
    # Where the dialplan resumes after an AGI that used SET CONTEXT/EXTENSION/PRIORITY: every
    # priority appends "<exten>/<priority>|" to AGIKIT_RESUMED, so the variable shows the first
    # priority that ran. Priority 4 has the label "mark".
    parts.append("[agikit-resume]")
    for exten in ("s", "other"):
        for priority in range(1, 5):
            label = "(mark)" if priority == 4 else ""
            head = f"exten => {exten},1" if priority == 1 else f" same => n{label}"
            parts.append(f"{head},Set(AGIKIT_RESUMED=${{AGIKIT_RESUMED}}${{EXTEN}}/${{PRIORITY}}|)")
        parts.append(" same => n,Hangup()")
    parts += ["exten => h,1,Gosub(agikit-report,s,1)", ""]
    for step, application in FAR_END_STEPS.items():
        parts += [
            f"[agikit-far-{step}]",
            f"exten => s,1,{application}",
            " same => n,Return()",
            "",
        ]
    return "\n".join(parts)


def render_all(module_dir: str, ami_port: int, username: str, secret: str) -> dict[str, str]:
    """Every configuration file of an instance, by file name."""
    return {
        "asterisk.conf": asterisk_conf(module_dir),
        "modules.conf": modules_conf(),
        "manager.conf": manager_conf(ami_port, username, secret),
        "logger.conf": logger_conf(),
        "musiconhold.conf": musiconhold_conf(),
        "extensions.conf": extensions_conf(),
    }
