"""Presentation of stored results: terminal tables, and later JUnit and markdown."""
