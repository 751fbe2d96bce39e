"""A faster ``import gradio``: skip its regeneration of the components' type stubs.

Each time Gradio is imported, ``gradio.component_meta.create_or_modify_pyi`` runs for every
component class: it parses the class's source file with ``ast``, parses its ``.pyi`` stub and
rewrites the stub inside site-packages when they differ. The stubs ship in the wheel; a
running app never needs them. On this 2-core machine that step is 2.5-3.7 s of the 5-7 s
the import takes (``python -m cProfile -c "import gradio"``), and it writes into
site-packages at run time. ``skip_stub_regeneration()``, called before Gradio is first
imported, makes it a no-op; called later, it changes nothing (the classes already exist).
If a Gradio release renames the function, the import is just slow again.
"""

from __future__ import annotations

import sys
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType

MODULE = "gradio.component_meta"
FUNCTION = "create_or_modify_pyi"


def skip_stub_regeneration() -> bool:
    """Install the finder; True when it will take effect (Gradio not imported yet)."""
    if MODULE in sys.modules:
        return False
    if not any(isinstance(finder, _StubSkipper) for finder in sys.meta_path):
        sys.meta_path.insert(0, _StubSkipper())
    return True


def _no_stub(*args: object, **kwargs: object) -> None:
    """Stands in for Gradio's stub regeneration."""


class _StubSkipper:
    """A meta-path finder for ``gradio.component_meta`` alone: the normal spec, whose loader
    replaces the stub function once the module has run."""

    def find_spec(self, name: str, path=None, target=None) -> ModuleSpec | None:
        if name != MODULE:
            return None
        spec = PathFinder.find_spec(name, path)
        loader = spec.loader if spec else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            if hasattr(module, FUNCTION):
                setattr(module, FUNCTION, _no_stub)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec
