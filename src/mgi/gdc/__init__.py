"""The GDC API: search, resumable verified downloads, the clinical table, molecular markers.

``download_project``, ``download_clinical`` and ``download_markers`` are what the pipeline calls;
the parts are :mod:`~mgi.gdc.client` (HTTP, retries), :mod:`~mgi.gdc.query` (which files,
``files.tsv``), :mod:`~mgi.gdc.download` (``/data`` with ``Range`` resume and md5),
:mod:`~mgi.gdc.cases` and :mod:`~mgi.gdc.markers` (IDH, 1p/19q).
"""

from mgi.gdc.cases import clinical_table, write_clinical
from mgi.gdc.client import DEFAULT_API_URL, GDCClient, GDCError, RetryPolicy, read_token
from mgi.gdc.download import download_all, download_file, md5_of, target_path
from mgi.gdc.markers import markers_table, write_markers
from mgi.gdc.project import api_options, download_clinical, download_markers, download_project
from mgi.gdc.query import COLUMNS, FileRecord, project_files, rnaseq_filters, write_tables

__all__ = [
    "COLUMNS",
    "DEFAULT_API_URL",
    "FileRecord",
    "GDCClient",
    "GDCError",
    "RetryPolicy",
    "api_options",
    "clinical_table",
    "download_all",
    "download_clinical",
    "download_file",
    "download_markers",
    "download_project",
    "markers_table",
    "md5_of",
    "project_files",
    "read_token",
    "rnaseq_filters",
    "target_path",
    "write_clinical",
    "write_markers",
    "write_tables",
]
