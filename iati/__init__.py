"""IATI 2.03 for ptfops: the standard's files, validation, and (later) import, export and map data.

A library with no web or database dependency. Validation: `iati.validate.validate_file`.
"""
