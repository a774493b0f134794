from . import segments  # noqa: F401
