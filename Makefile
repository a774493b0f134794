# The two commands of the README. ODOO_SRC defaults to /opt/odoo18.
.PHONY: setup test
setup:
	bash scripts/setup.sh
test:
	bash scripts/test.sh
