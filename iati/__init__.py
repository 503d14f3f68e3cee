"""IATI 2.03 for ptfops: the standard's files, validation, reading, writing and map data.

A library with no web or database dependency: `iati.model` (data classes),
`iati.validate.validate_file`, `iati.reader`, `iati.writer`, `iati.spreadsheet`, `iati.geo`.
"""
