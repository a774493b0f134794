"""Functional core of the sync service.

Pure, typed functions without I/O: keyword classification, SMS segment counting,
webhook signature checks, provider answer classification and quiet-hours arithmetic.
Adapters (HTTP, Odoo RPC, database) call into these modules; nothing here reads a clock,
the network or the environment, so every function is deterministic and table-testable.
"""
