"""Data manifests: which skull files exist, their defect types and their splits.

A manifest (JSON, ``schema_version`` 1, schema in ``skullvae/data/schema/manifest.schema.json``,
described in ``data_manifests/README.md``) lists one case per skull with its split and
gives path patterns for the complete skull, each defective skull and each implant.
:func:`load_manifest` checks it, resolves every path against a root folder and returns a
:class:`Manifest`; :meth:`Manifest.validate` names every file that is missing.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from skullvae.data.schema_validation import load_schema, validate
from skullvae.data.splits import DEFAULT_FRACTIONS, split_by_skull
from skullvae.errors import SkullVAEError
from skullvae.io.atomic import atomic_write_text, check_writable

SCHEMA_VERSION = 1
STANDARD_SPLITS = ("train", "val", "test")
PLACEHOLDERS = ("skull_id", "file_id", "defect_type", "split")
_MAX_LISTED = 20
_MAX_ERRORS = 10
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Case:
    """One skull and its files.

    Attributes:
        skull_id: unique id of the skull in the manifest.
        split: split name (``train``, ``val``, ``test``, ...).
        complete: path of the complete skull, or None when not provided.
        defective: defect type -> path of the defective skull.
        implant: defect type -> path of the implant.
    """

    skull_id: str
    split: str
    complete: Path | None
    defective: dict[str, Path] = field(default_factory=dict)
    implant: dict[str, Path] = field(default_factory=dict)

    def files(self) -> list[Path]:
        """All paths of this case (complete first, then defective, then implants)."""
        out = [self.complete] if self.complete is not None else []
        return out + list(self.defective.values()) + list(self.implant.values())


@dataclass
class Manifest:
    """A loaded manifest with every path resolved against :attr:`root`.

    Attributes:
        name: dataset name.
        root: folder that relative paths are resolved against.
        defect_types: defect types, in the manifest's order.
        cases: one :class:`Case` per skull.
        path: the manifest file, or None when built from a dict.
        data: the manifest JSON as loaded.
    """

    name: str
    root: Path
    defect_types: tuple[str, ...]
    cases: list[Case]
    path: Path | None = None
    data: dict = field(default_factory=dict, repr=False)

    @property
    def split_names(self) -> list[str]:
        """Split names used by the cases, in first-seen order."""
        return list(dict.fromkeys(c.split for c in self.cases))

    def split(self, name: str) -> list[Case]:
        """Cases of one split.

        Args:
            name: split name; a standard or declared name with no cases gives ``[]``.

        Returns:
            The cases of that split, in manifest order.
        """
        declared = set(STANDARD_SPLITS) | set(self.data.get("splits", {}).get("fractions", {}))
        declared |= set(self.data.get("splits", {}).get("fixed", []))
        if name not in declared and name not in self.split_names:
            raise SkullVAEError(
                f"unknown split {name!r} in manifest {self.name!r} (splits: {', '.join(self.split_names) or 'none'})"
            )
        return [c for c in self.cases if c.split == name]

    def case(self, skull_id: str) -> Case:
        """The case with this skull id (SkullVAEError when absent)."""
        for c in self.cases:
            if c.skull_id == skull_id:
                return c
        raise SkullVAEError(f"no skull {skull_id!r} in manifest {self.name!r}")

    def pairs(self, split: str | None = None) -> list[tuple[Case, str]]:
        """(case, defect type) pairs that have both a defective and a complete skull.

        Args:
            split: restrict to one split; None for all cases.

        Returns:
            Pairs in manifest order, defect types in :attr:`defect_types` order.
        """
        cases = self.cases if split is None else self.split(split)
        return [
            (c, t) for c in cases if c.complete is not None for t in self.defect_types if t in c.defective
        ]

    def missing_files(self, split: str | None = None) -> list[Path]:
        """Every promised file that does not exist, in manifest order.

        Args:
            split: only the cases of this split; None for all.

        Returns:
            The missing paths.
        """
        seen: set[Path] = set()
        missing = []
        for c in self.cases if split is None else self.split(split):
            for p in c.files():
                if p not in seen and not p.is_file():
                    missing.append(p)
                seen.add(p)
        return missing

    def validate(self, split: str | None = None) -> "Manifest":
        """Check that every file exists.

        Args:
            split: only check the cases of this split (e.g. train without the
                official test set); None checks all cases.

        Returns:
            self, for chaining.

        Raises:
            SkullVAEError: one line naming every missing file (the count and the
                first 20 when there are more).
        """
        if not self.root.is_dir():
            raise SkullVAEError(f"data root of manifest {self.name!r} not found: {self.root}")
        missing = self.missing_files(split)
        if missing:
            names = [_display(p, self.root) for p in missing[:_MAX_LISTED]]
            more = f" ... and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
            scope = f" split {split!r}" if split is not None else ""
            raise SkullVAEError(
                f"{len(missing)} file(s) missing for manifest {self.name!r}{scope} under {self.root}: "
                f"{', '.join(names)}{more}"
            )
        return self


def load_manifest(path: str | os.PathLike, root: str | os.PathLike | None = None) -> Manifest:
    """Read, check and resolve a manifest.

    Args:
        path: manifest JSON file, or a folder holding ``manifest.json``.
        root: folder the relative paths refer to; defaults to the manifest's folder.

    Returns:
        The :class:`Manifest` (files are not checked; call :meth:`Manifest.validate`).

    Raises:
        SkullVAEError: missing or unreadable file, invalid JSON, schema or split errors.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise SkullVAEError(f"manifest not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise SkullVAEError(f"manifest is not UTF-8 text: {path}") from None
    except OSError as exc:
        raise SkullVAEError(f"cannot read manifest {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise SkullVAEError(f"manifest is not valid JSON: {path} (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return manifest_from_dict(data, root=path.parent if root is None else root, source=path)


def manifest_from_dict(data: Any, root: str | os.PathLike, source: str | os.PathLike | None = None) -> Manifest:
    """Check a manifest dict and resolve its paths against ``root``.

    Args:
        data: decoded manifest JSON.
        root: folder the relative paths refer to.
        source: where the dict came from (only used in messages and :attr:`Manifest.path`).

    Returns:
        The :class:`Manifest`.
    """
    label = str(source) if source is not None else "manifest"
    check_manifest_dict(data, label)
    root = Path(root)
    types = tuple(data["defect_types"])
    cases = [_resolve_case(c, data["layout"], types, root) for c in data["cases"]]
    _check_file_leakage(cases, label)
    return Manifest(
        name=data["name"], root=root, defect_types=types, cases=cases,
        path=Path(source) if source is not None else None, data=data,
    )


def check_manifest_dict(data: Any, label: str = "manifest") -> None:
    """Schema and consistency checks of a manifest dict (no file system access).

    Args:
        data: decoded manifest JSON.
        label: name used in the error message.

    Raises:
        SkullVAEError: one line listing the problems (at most 10, then a count).
    """
    if not isinstance(data, dict):
        raise SkullVAEError(f"invalid manifest {label}: expected a JSON object at the top level")
    version = data.get("schema_version")
    if "schema_version" in data and version != SCHEMA_VERSION:
        raise SkullVAEError(
            f"invalid manifest {label}: unsupported schema_version {json.dumps(version)} "
            f"(this skullvae reads schema_version {SCHEMA_VERSION})"
        )
    errors = validate(data, load_schema("manifest.schema.json"))
    if not errors:
        errors = _consistency_errors(data)
    if errors:
        more = f"; ... and {len(errors) - _MAX_ERRORS} more" if len(errors) > _MAX_ERRORS else ""
        raise SkullVAEError(f"invalid manifest {label}: {'; '.join(errors[:_MAX_ERRORS])}{more}")


def write_manifest(data: dict, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Check a manifest dict and write it as JSON, atomically.

    Args:
        data: manifest dict (schema_version 1).
        path: output file.
        overwrite: replace an existing file.

    Returns:
        The written path.
    """
    path = check_writable(path, overwrite)
    check_manifest_dict(data, str(path))
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return atomic_write_text(path, text, overwrite=overwrite)


def new_manifest(
    name: str,
    skull_ids: Iterable[str],
    layout: dict[str, str | None],
    defect_types: Iterable[str],
    seed: int = 0,
    fractions: dict[str, float] | None = None,
    **metadata: Any,
) -> dict:
    """Build a manifest dict whose splits are drawn by skull with :func:`split_by_skull`.

    Args:
        name: dataset name.
        skull_ids: unique skull ids (their order is kept in ``cases``).
        layout: ``complete``/``defective``/``implant`` path patterns.
        defect_types: defect types.
        seed: split seed.
        fractions: split fractions (default train 0.7, val 0.15, test 0.15).
        **metadata: further top-level keys (description, spacing_mm, shape, source,
            licence, citation, notes).

    Returns:
        The manifest dict (checked).
    """
    ids = [str(s) for s in skull_ids]
    fractions = dict(DEFAULT_FRACTIONS if fractions is None else fractions)
    assignment = split_by_skull(ids, fractions, seed)
    data: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "name": name}
    if "description" in metadata:
        data["description"] = metadata.pop("description")
    data["layout"] = dict(layout)
    data["defect_types"] = list(defect_types)
    data.update(metadata)
    data["splits"] = {"seed": seed, "fractions": fractions}
    data["cases"] = [{"skull_id": s, "split": assignment[s]} for s in ids]
    check_manifest_dict(data, name)
    return data


def _consistency_errors(data: dict) -> list[str]:
    errors: list[str] = []
    types = data["defect_types"]
    for key, pattern in data["layout"].items():
        if pattern is None:
            continue
        names = _PLACEHOLDER.findall(pattern)
        allowed = [n for n in PLACEHOLDERS if not (key == "complete" and n == "defect_type")]
        bad = [n for n in names if n not in allowed]
        stray = "{" in _PLACEHOLDER.sub("", pattern) or "}" in _PLACEHOLDER.sub("", pattern)
        if bad or stray:
            errors.append(f"layout.{key}: bad placeholder in {pattern!r} (allowed: {', '.join('{%s}' % n for n in allowed)})")
        elif key != "complete" and len(types) > 1 and "defect_type" not in names:
            errors.append(f"layout.{key}: needs {{defect_type}} because there are {len(types)} defect types")
    splits_of: dict[str, str] = {}
    for i, case in enumerate(data["cases"]):
        sid, split = case["skull_id"], case["split"]
        if sid in splits_of:
            where = "twice" if splits_of[sid] == split else f"in two splits ({splits_of[sid]} and {split})"
            errors.append(f"cases[{i}].skull_id: skull {sid!r} appears {where}; all defects of a skull belong to one split")
        splits_of.setdefault(sid, split)
        files = case.get("files") or {}
        for kind in ("defective", "implant"):
            for t in files.get(kind) or {}:
                if t not in types:
                    errors.append(f"cases[{i}].files.{kind}.{t}: unknown defect type (defect_types: {', '.join(types)})")
    return errors


def _resolve_case(case: dict, layout: dict, types: tuple[str, ...], root: Path) -> Case:
    values = {"skull_id": case["skull_id"], "file_id": case.get("file_id", case["skull_id"]), "split": case["split"]}
    files = case.get("files") or {}

    def path_of(rel: str | None) -> Path | None:
        return None if rel is None else root / rel

    def fill(pattern: str | None, defect_type: str | None = None) -> Path | None:
        if pattern is None:
            return None
        vals = dict(values, defect_type=defect_type or "")
        return root / _PLACEHOLDER.sub(lambda m: vals[m.group(1)], pattern)

    complete = path_of(files["complete"]) if "complete" in files else fill(layout["complete"])
    per_type: dict[str, dict[str, Path]] = {}
    for kind in ("defective", "implant"):
        override = files.get(kind, {})
        resolved: dict[str, Path] = {}
        if override is not None:  # an explicit null means: none for this case
            for t in types:
                p = path_of(override[t]) if t in override else fill(layout[kind], t)
                if p is not None:
                    resolved[t] = p
        per_type[kind] = resolved
    return Case(case["skull_id"], case["split"], complete, per_type["defective"], per_type["implant"])


def _check_file_leakage(cases: list[Case], label: str) -> None:
    """Refuse one file shared by cases in different splits (the same skull under two ids)."""
    owner: dict[Path, Case] = {}
    for c in cases:
        for p in c.files():
            first = owner.setdefault(p, c)
            if first.split != c.split:
                raise SkullVAEError(
                    f"invalid manifest {label}: file {p} is used by skull {first.skull_id!r} ({first.split}) "
                    f"and skull {c.skull_id!r} ({c.split}); splits must not share skulls"
                )


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
