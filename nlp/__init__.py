"""Understand: province matching, gazetteer and (later) classifiers."""
