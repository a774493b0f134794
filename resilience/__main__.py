"""``python -m resilience``: run the resilience suite (see :mod:`resilience.run`)."""

from .run import main

raise SystemExit(main())
