"""The package grouped by stage keeps its former public names: each old module path imports the very
module object that moved (so attributes, monkeypatching and isinstance checks agree)."""

from __future__ import annotations

import importlib

import pytest

MOVED = {"seqgx.variants": "seqgx.genome.variants", "seqgx.genes": "seqgx.genome.genes",
         "seqgx.personalize": "seqgx.genome.personalize", "seqgx.models": "seqgx.model.models",
         "seqgx.predict": "seqgx.model.predict", "seqgx.attribution": "seqgx.model.attribution",
         "seqgx.readouts": "seqgx.model.readouts", "seqgx.stats": "seqgx.analysis.stats",
         "seqgx.predixcan": "seqgx.analysis.predixcan", "seqgx.assess": "seqgx.analysis.assess",
         "seqgx.motifs": "seqgx.analysis.motifs"}


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_former_module_names_are_the_moved_modules(old: str, new: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(new)
    package, _, name = old.rpartition(".")
    assert getattr(importlib.import_module(package), name) is importlib.import_module(new)


def test_from_imports_of_former_names_work() -> None:
    from seqgx.motifs import driver_context
    from seqgx.stats import pearson

    from seqgx.genome import Reference, encode
    from seqgx.genome.reference import Reference as moved_reference

    assert Reference is moved_reference and callable(encode) and callable(pearson)
    assert driver_context.__module__ == "seqgx.analysis.motifs"


def test_unknown_attribute_is_an_attribute_error() -> None:
    import seqgx

    with pytest.raises(AttributeError):
        seqgx.no_such_module  # noqa: B018
