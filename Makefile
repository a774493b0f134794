# The commands of the README. ODOO_SRC defaults to /opt/odoo18.
.PHONY: setup test demo resilience resilience-replicas mutation odoo-suites
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
resilience-replicas:
	.venv/bin/python -m resilience --replicas 3 --odoo-workers 2
odoo-suites:
	bash scripts/odoo_suites.sh
