"""MGI pipeline library: TCGA RNA-seq + FLAIR MRI, contrastive pre-training and segmentation.

The library never reads ``config.yaml`` or the ``snakemake`` object and never configures logging
handlers; entry points (``mgi.cli`` and ``workflow/scripts``) do.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
