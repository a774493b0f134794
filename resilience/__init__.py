"""The resilience suite (``make resilience``): the real service, Odoo and provider simulator, disturbed."""
