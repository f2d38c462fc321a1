"""The package's layers (docs/development.md): a module imports only from its own part of ``scact`` or
from lower layers, and never another part's private modules or names."""
import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "scact"

#: Parts of ``scact`` (sub-packages and top-level modules), lowest layer first; one layer may hold several
#: parts, which then import none of each other.
LAYERS = (("errors", "progress", "stats"), ("io",), ("preprocessing",), ("simulate",), ("model",), ("translation",),
          ("evaluation", "perturbation"), ("report",), ("steps",), ("pipeline",), ("cli",))


def _imports(path: Path):
    """``(part, private)`` for every import of ``scact`` in a module, anywhere in it (inside functions
    too): the part imported from, and whether a private module or name of it is reached."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules, names = [node.module], [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            modules, names = [alias.name for alias in node.names], []
        else:
            continue
        for module in modules:
            dotted = module.split(".")
            if dotted[0] == "scact" and len(dotted) > 1:
                yield dotted[1], any(n.startswith("_") for n in dotted[2:] + names)


def test_every_module_imports_only_lower_layers_and_public_names():
    rank = {part: level for level, parts in enumerate(LAYERS) for part in parts}
    wrong = []
    for path in sorted(SOURCE.rglob("*.py")):
        part = path.relative_to(SOURCE).parts[0].removesuffix(".py")
        if part == "__init__":  # the top level re-exports the public names of every layer
            continue
        assert part in rank, f"scact.{part} is in no layer of LAYERS: place it"
        for imported, private in _imports(path):
            if imported == part:
                continue
            assert imported in rank, f"scact.{imported} (imported by {path.name}) is in no layer of LAYERS"
            if rank[imported] >= rank[part]:
                wrong.append(f"{path.relative_to(SOURCE)} imports the higher or equal layer scact.{imported}")
            if private:
                wrong.append(f"{path.relative_to(SOURCE)} imports a private part of scact.{imported}")
    assert not wrong, "; ".join(wrong)
