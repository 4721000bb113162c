"""Downstream stages, one module per external tool or job; installed as ``blur4d.adapters``."""
