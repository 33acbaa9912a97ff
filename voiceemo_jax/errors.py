"""The one exception type users see as a one-line message (exit code 2)."""


class UserError(Exception):
    """Bad input from the user: wrong file, empty audio, bad checkpoint, corrupt record.

    The CLI prints `voiceemo <command>: error: <message>` and exits non-zero, with no
    traceback. The message must name the offending file or value.
    """
