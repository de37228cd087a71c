"""Notification channels: one module per kind, listed in channels.registry.

Note: this package shadows the PyPI package "channels" (Django Channels); never install it.
"""
