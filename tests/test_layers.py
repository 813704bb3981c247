"""The library's folders keep the pipeline's order: a module imports only from its own layer and the
layers before it, except the few named crossings below (each one says why)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "skullvae"
ORDER = ["errors", "io", "preprocessing", "phantoms", "defects", "data", "model", "objectives", "training",
         "latent", "completion", "implant", "metrics", "evaluation"]
#: (module, imported layer): why the later layer is used.
CROSSINGS = {
    ("phantoms/dataset.py", "defects"): "the synthetic data set cuts its defects with the injector",
    ("phantoms/dataset.py", "data"): "it writes the data set's manifest",
    ("phantoms/templates.py", "data"): "templates are read from a user's manifest",
    ("data/dataset.py", "training"): "the grid cache shows training's progress bar",
    ("training/common.py", "latent"): "training ends by writing the latent statistics and report",
    ("completion/pipeline.py", "implant"): "complete's stages: the implant and mesh steps",
    ("completion/outputs.py", "implant"): "complete writes the STL",
    ("completion/preview.py", "implant"): "the preview draws the implant's mesh",
    ("completion/report.py", "implant"): "the report summarises the mesh",
}


def _imported_layers(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("skullvae."):
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("skullvae.")]
        for name in names:
            yield name.split(".")[1]


def test_no_module_imports_a_later_layer_except_the_named_crossings():
    rank = {name: i for i, name in enumerate(ORDER)}
    found = set()
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if len(rel.parts) < 2 or rel.parts[0] not in rank:
            continue
        for layer in _imported_layers(path):
            if layer in rank and rank[layer] > rank[rel.parts[0]]:
                found.add((rel.as_posix(), layer))
    assert found - set(CROSSINGS) == set(), "new imports of a later layer (move the code, or name the crossing)"
    assert set(CROSSINGS) - found == set(), "crossings listed that no longer exist"


def test_the_library_never_imports_the_cli():
    assert not any("skullvae_cli" in p.read_text() for p in ROOT.rglob("*.py"))
