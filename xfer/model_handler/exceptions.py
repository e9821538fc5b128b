"""Errors raised by :class:`~xfer.model_handler.ModelHandler`."""


class ModelError(Exception):
    """An edit of the network that is impossible or ambiguous (e.g. dropping through a branch)."""


class ModelArchitectureError(Exception):
    """Stored parameters that do not fit the network's graph (missing or of the wrong shape)."""
