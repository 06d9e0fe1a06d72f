"""Database backends of CareLoop's own."""
