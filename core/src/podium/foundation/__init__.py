"""Foundations: exceptions, hook markers, secret redaction, single-flight. Import nothing above."""
