"""``odoo-bin`` for the benchmarks that run Odoo with ``--workers``: Odoo's master starts its longpolling
process as ``<this file> gevent ...``. In this virtualenv, gevent's own plugin entry point fails to resolve
through ``pkg_resources`` ("The 'zope.interface' distribution was not found", although it is installed), so
that process dies at import and the master starts it again and again, burning a CPU. Here gevent's plugins are
looked up through ``importlib.metadata`` instead (which finds them); the rest is ``odoo-bin`` as is."""

import importlib.metadata
import os
import sys

os.environ["TZ"] = "UTC"
sys.path.insert(0, os.environ.get("ODOO_SRC", "/opt/odoo18"))

if len(sys.argv) > 1 and sys.argv[1] == "gevent":
    import gevent.events

    gevent.events.iter_entry_points = lambda group: list(importlib.metadata.entry_points(group=group))

import odoo

if __name__ == "__main__":
    odoo.cli.main()
