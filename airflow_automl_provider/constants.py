"""
Defaults shared by the hooks, the operators and the plugin.

This module imports nothing, so the operator modules can use these defaults in their signatures
without importing the hooks: a DAG file then parses without loading the hook modules.
"""

from __future__ import annotations

#: The common-sql connection the hooks, operators and the plugin use unless told otherwise.
DEFAULT_CONN_ID = "automl_default"
#: Rows per chunk when a table is read or written in pieces.
DEFAULT_CHUNK_ROWS = 50_000
