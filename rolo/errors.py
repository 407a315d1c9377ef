"""User-facing errors.

Anything a user can cause (a bad path, a damaged file, a wrong flag) raises a
:class:`RoloError` whose message names the file, line or flag. The scripts turn
it into one ``error: ...`` line and exit status 2 instead of a traceback.
"""


class RoloError(Exception):
    """An error in the user's input or environment, with a message that says what to fix."""


class ConfigError(RoloError):
    """A bad command-line flag or constant value."""


class DataError(RoloError):
    """A missing or damaged data set, cache or checkpoint file."""


class DataErrors(DataError):
    """Several independent problems of one item (a sequence whose label file is missing *and* whose
    images are short), so that a check reports them all at once rather than the first."""

    def __init__(self, messages):
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))
