"""Checkers, one module per chapter: each function checks one exercise and names the mistake."""
