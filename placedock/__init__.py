"""placedock: OpenStack Placement in a container, configured by the environment alone."""


class PlacedockError(Exception):
    """A reason not to start: one line, naming what is wrong, never holding a secret value."""
