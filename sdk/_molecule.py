"""`darkroom.Molecule`: molecule files stored as given, and SMILES or rdkit molecules made 3-D by a worker.

Nothing here imports rdkit (STYLE.md, rule 11): a file is read on the sender
thread, a SMILES string is sent as text, and an rdkit ``Mol`` the caller
already holds is written out as a mol block with the caller's own rdkit.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from darkroom._media import BytesSnapshot, Media, format_file_snapshot
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.molecule_layout import BUILT_FROM_FORMATS as RDKIT_FILE_TYPES
from darkroom.pipeline.molecule_layout import STORED_FORMATS as FILE_TYPES
from darkroom.pipeline.molecule_layout import check_iterations


class Molecule(Media):
    """A molecule to log.

    Parameters
    ----------
    data: a path to a pdb, pqr, mmcif, mcif, cif, sdf, sd, gro, mol2 or mmtf
        file, or an open file (text or binary) with `file_type`.
    caption: text kept in the manifest.
    file_type: the format, required for open files; for a path it overrides
        the file's extension.

    The file is stored as given; the worker checks it (rdkit parses pdb, sdf
    and mol2) and counts its atoms.  See `from_smiles` and `from_rdkit` for
    molecules the worker builds in 3-D.

    Raises
    ------
    TypeError, ValueError, FileNotFoundError: what was given and what is accepted.
    """

    kind = "molecule"

    def __init__(self, data: Any, caption: str | None = None, file_type: str | None = None):
        super().__init__(caption)
        snapshot, fmt = format_file_snapshot(data, file_type, FILE_TYPES, "Molecule")
        self._payload = snapshot
        self._options = {"source": "file", "file_type": fmt}

    @classmethod
    def from_smiles(
        cls,
        smiles: str,
        caption: str | None = None,
        sanitize: bool = True,
        convert_to_3d_and_optimize: bool = True,
        mmff_optimize_molecule_max_iterations: int = 200,
    ) -> "Molecule":
        """A molecule from a SMILES string, made 3-D by the worker.

        The worker parses the SMILES (an invalid one becomes a failed manifest
        naming it), adds hydrogens, embeds 3-D coordinates (fixed seed),
        optimises them with MMFF for at most
        `mmff_optimize_molecule_max_iterations` and stores PDB, with a 2-D
        depiction PNG under the role ``depiction``.

        Raises
        ------
        TypeError, ValueError: `smiles` is not a non-empty str, or an option is out of range.
        """
        if not isinstance(smiles, str):
            raise TypeError(f"Molecule.from_smiles smiles must be a str; got {type(smiles).__name__} {smiles!r}")
        if not smiles.strip():
            raise ValueError("Molecule.from_smiles smiles is empty; accepted: a SMILES string such as 'CCO'")
        options = _build_options("smiles", None, "Molecule.from_smiles", convert_to_3d_and_optimize,
                                 mmff_optimize_molecule_max_iterations)
        options["sanitize"] = bool(sanitize)
        payload = BytesSnapshot(smiles.strip().encode("utf-8"), "smi", "chemical/x-daylight-smiles")
        return cls._built(payload, options, caption)

    @classmethod
    def from_rdkit(
        cls,
        mol_or_path: Any,
        caption: str | None = None,
        convert_to_3d_and_optimize: bool = True,
        mmff_optimize_molecule_max_iterations: int = 200,
    ) -> "Molecule":
        """A molecule from an rdkit ``Mol`` or a mol, sdf, sd or mol2 file, made 3-D by the worker.

        A ``Mol`` is written as a mol block here, on the caller's thread (it is
        the caller's object and may change later); a file is read on the sender
        thread and parsed by the worker (an SDF: its first molecule).  With
        `convert_to_3d_and_optimize=False` the coordinates are kept as given.

        Raises
        ------
        TypeError, ValueError, FileNotFoundError: what was given and what is accepted.
        """
        where = "Molecule.from_rdkit"
        if _is_rdkit_mol(mol_or_path):
            payload: Any = BytesSnapshot(_mol_block(mol_or_path), "mol", "chemical/x-mdl-molfile")
            fmt = "mol"
        elif isinstance(mol_or_path, (str, os.PathLike)):
            payload, fmt = format_file_snapshot(mol_or_path, None, RDKIT_FILE_TYPES, where, by_name_only=True)
        else:
            raise TypeError(f"{where} got {type(mol_or_path).__name__}; accepted: an rdkit.Chem.Mol or a "
                            f"path to a {', '.join(RDKIT_FILE_TYPES)} file")
        options = _build_options("rdkit", fmt, where, convert_to_3d_and_optimize,
                                 mmff_optimize_molecule_max_iterations)
        return cls._built(payload, options, caption)

    @classmethod
    def _built(cls, payload: Any, options: dict[str, Any], caption: str | None) -> "Molecule":
        """A Molecule the worker builds from `payload` (the constructor takes files only)."""
        molecule = cls.__new__(cls)
        Media.__init__(molecule, caption)
        molecule._payload = payload
        molecule._options = options
        return molecule


def _build_options(source: str, fmt: str | None, where: str, convert: bool, iterations: Any) -> dict[str, Any]:
    try:
        iterations = check_iterations(iterations, where)
    except InvalidInput as e:
        raise ValueError(e.message) from None
    return {"source": source, "file_type": fmt, "convert_to_3d_and_optimize": bool(convert),
            "mmff_optimize_molecule_max_iterations": iterations}


def _is_rdkit_mol(value: Any) -> bool:
    return type(value).__module__.startswith("rdkit.") and hasattr(value, "GetNumAtoms")


def _mol_block(mol: Any) -> bytes:
    """The caller's rdkit ``Mol`` as a mol block, written with the caller's own rdkit.

    darkroom never imports rdkit on the training side (DESIGN.md: a job that
    sends to a fleet must not load codecs).  Whoever holds a ``Mol`` has
    imported ``rdkit.Chem`` already (importing ``rdkit.Chem.rdchem`` imports
    its package first), so its ``MolToMolBlock`` is taken from ``sys.modules``:
    that loads nothing new.  A mol block is text the worker re-reads with its
    own parser; rdkit's binary ``ToBinary`` form would hand an untrusted blob
    to a C++ decoder on the worker.
    """
    chem = sys.modules.get("rdkit.Chem")
    if chem is None:  # a Mol from an rdkit module without its package: not seen in practice
        raise TypeError("Molecule.from_rdkit: rdkit.Chem is not imported; import it before passing a Mol")
    try:
        block = chem.MolToMolBlock(mol)
    except (RuntimeError, ValueError) as e:  # rdkit's errors (a KekulizeException is a ValueError)
        raise ValueError(f"Molecule.from_rdkit: rdkit could not write this Mol as a mol block: {e}") from None
    return block.encode("utf-8")
