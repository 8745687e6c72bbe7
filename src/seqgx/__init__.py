"""seqgx: assess sequence-to-expression models on the personal genomes of a cohort."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seqgx")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"


# The package is grouped by pipeline stage (genome/, model/, analysis/, report/). The former flat
# module names stay importable and are the same module objects (monkeypatching either name patches
# both): ``import seqgx.stats`` gives ``seqgx.analysis.stats``.
_MOVED_MODULES = {
    "seqgx.variants": "seqgx.genome.variants",
    "seqgx.genes": "seqgx.genome.genes",
    "seqgx.personalize": "seqgx.genome.personalize",
    "seqgx.models": "seqgx.model.models",
    "seqgx.predict": "seqgx.model.predict",
    "seqgx.attribution": "seqgx.model.attribution",
    "seqgx.readouts": "seqgx.model.readouts",
    "seqgx.stats": "seqgx.analysis.stats",
    "seqgx.predixcan": "seqgx.analysis.predixcan",
    "seqgx.assess": "seqgx.analysis.assess",
    # Not moved, but a public name of its own (issue 14's API: seqgx.motifs.driver_context).
    "seqgx.motifs": "seqgx.analysis.motifs",
}


def _install_module_aliases() -> None:
    import importlib
    import importlib.abc
    import importlib.util
    import sys

    class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001, ANN201
            if fullname in _MOVED_MODULES:
                return importlib.util.spec_from_loader(fullname, self)
            return None

        def create_module(self, spec):  # noqa: ANN001, ANN201
            module = importlib.import_module(_MOVED_MODULES[spec.name])
            sys.modules[spec.name] = module
            return module

        def exec_module(self, module):  # noqa: ANN001, ANN201
            pass

    sys.meta_path.append(_Alias())


_install_module_aliases()


def __getattr__(name: str):  # noqa: ANN202  (``seqgx.stats`` as an attribute, as before the move)
    import importlib

    key = f"seqgx.{name}"
    if key in _MOVED_MODULES:
        return importlib.import_module(key)
    raise AttributeError(f"module 'seqgx' has no attribute {name!r}")
