"""CareLoop (随访): patient follow-up and health management."""

__version__ = "0.1.0"
