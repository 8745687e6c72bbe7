"""seqgx: assess sequence-to-expression models on the personal genomes of a cohort."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seqgx")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"
