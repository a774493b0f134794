from . import recipient_zones  # noqa: F401
from . import segments  # noqa: F401
