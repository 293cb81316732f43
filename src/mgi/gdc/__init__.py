"""The GDC API: search, resumable verified downloads, the clinical table.

``download_project`` and ``download_clinical`` are what the pipeline calls; the parts are
:mod:`~mgi.gdc.client` (HTTP, retries), :mod:`~mgi.gdc.query` (which files, ``files.tsv``),
:mod:`~mgi.gdc.download` (``/data`` with ``Range`` resume and md5) and :mod:`~mgi.gdc.cases`.
"""

from mgi.gdc.cases import clinical_table, write_clinical
from mgi.gdc.client import DEFAULT_API_URL, GDCClient, RetryPolicy, read_token
from mgi.gdc.download import download_all, download_file, md5_of, target_path
from mgi.gdc.project import download_clinical, download_project
from mgi.gdc.query import COLUMNS, FileRecord, project_files, rnaseq_filters, write_tables

__all__ = [
    "COLUMNS",
    "DEFAULT_API_URL",
    "FileRecord",
    "GDCClient",
    "RetryPolicy",
    "clinical_table",
    "download_all",
    "download_clinical",
    "download_file",
    "download_project",
    "md5_of",
    "project_files",
    "read_token",
    "rnaseq_filters",
    "target_path",
    "write_clinical",
    "write_tables",
]
