"""Dialplan application arguments, escaped the way Asterisk's standard splitter reads them.

``AGI()``'s own arguments, AMI ``Variable:`` headers and most applications' options (``Dial``,
``Playback`` ...) are split by ``__ast_app_separate_args`` with ``AST_STANDARD_APP_ARGS``
(main/app.c): on commas outside quotes, parentheses and brackets; double quotes are dropped; a
backslash makes the next character literal. So ``call.exec("Playback", "a,b")`` plays ``a``
then ``b``; :func:`escape_app_arg` makes one value of ``a,b``. Applications that read their data
raw are the exception: ``Set()`` takes everything after ``=`` verbatim, so do not escape for it.
(Proven for AGI() arguments by the harness, which passes every test call's arguments this way.)
"""

_SPECIALS = frozenset('\\,"()[]')


def escape_app_arg(value: str) -> str:
    """``value`` with a backslash before each character the splitter treats specially, so that
    the application receives exactly ``value`` as one argument."""
    return "".join("\\" + char if char in _SPECIALS else char for char in value)


def join_app_args(*args: str) -> str:
    """Several arguments as one escaped, comma-separated string (``AGI(script,arg1,arg2)``)."""
    return ",".join(escape_app_arg(arg) for arg in args)
