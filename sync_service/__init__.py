"""Sync service of the SMS marketing suite for Odoo 18."""

__version__ = "0.1.0"
