"""The alerts app's rooms import one way: engine -> delivery -> kinds, the maths pure.

(No import cycle anywhere in the project: tests/test_layering.py.)
"""

from tests.support.imports import PROJECT_DIR, imported_names, sources

ALERTS = PROJECT_DIR / "alerts"


def test_delivery_never_imports_the_engine():
    for module, statements in sources("alerts").items():
        if module.startswith("alerts.delivery"):
            assert not [name for name, _ in statements if name.startswith("alerts.engine")], module


def test_the_rung_maths_imports_neither_django_nor_the_models():
    imports = imported_names(ALERTS / "engine" / "rungs.py")
    assert not {name for name in imports if name.startswith(("django", "alerts"))}, imports
