# The two commands of the README. ODOO_SRC defaults to /opt/odoo18.
.PHONY: setup test resilience
setup:
	bash scripts/setup.sh
test:
	bash scripts/test.sh
resilience:
	.venv/bin/python -m resilience
