"""Errors a user can act on. The CLI and the window show their message, never a traceback."""


class AgeGenderError(Exception):
    """Base class: the message names the problem and the way out."""


class ModelError(AgeGenderError):
    """A model file is missing, damaged, or not one of ours."""


class InputError(AgeGenderError):
    """An input (file, folder, camera, stream) cannot be read."""


class OutputError(AgeGenderError):
    """An output file cannot be written."""


class UnreadableFileError(InputError):
    """A file that exists but cannot be used (empty, damaged, too large): trying again will not help."""
