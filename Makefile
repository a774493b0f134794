# The commands of the README. ODOO_SRC defaults to /opt/odoo18.
.PHONY: setup test demo resilience mutation odoo-suites
setup:
	bash scripts/setup.sh
test:
	bash scripts/test.sh
demo:
	bash scripts/demo.sh
resilience:
	.venv/bin/python -m resilience
mutation:
	bash scripts/mutation.sh
odoo-suites:
	bash scripts/odoo_suites.sh
