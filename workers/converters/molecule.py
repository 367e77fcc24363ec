"""Molecules: files checked and stored as given; SMILES and rdkit molecules built in 3-D as PDB.

The rules are MEDIA_TYPES.md's Molecule section.  rdkit parses pdb, sdf/sd
and mol2 to check them and count atoms and bonds; the other formats are
checked as text (workers/converters/molecule_text.py).  `from_smiles` and
`from_rdkit` items go AddHs -> EmbedMolecule (fixed seed) -> MMFF -> PDB,
which is deterministic (STACK_NOTES.md), plus a 2-D depiction PNG.
"""

from __future__ import annotations

import io
import time
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.molecule_layout import (
    BUILT_FROM_FORMATS,
    MAX_MMFF_ITERATIONS,
    MEDIA_TYPES,
    STORED_FORMATS,
    check_declared_atoms,
    check_embed_atoms,
    molecule_format,
)
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import Converter, ItemInput, Output, RelatedOutput, geometry
from darkroom.workers.converters.molecule_text import check_mmtf, check_text_format, declared_atoms, decode_text
from darkroom.workers.converters.rdkit_log import ascii_text, chem, rdkit_log, reason

# 2: a `geometry` related file (atoms, elements, bonds) for the viewer.
VERSION = "2"
# Every format an option may name: stored ones, then "mol" (built from only).
FileType = Literal[tuple(dict.fromkeys(STORED_FORMATS + BUILT_FROM_FORMATS))]  # type: ignore[valid-type]
_SEED = 0xDA7C  # EmbedMolecule's seed: the same input always gives the same PDB
# rdkit's proximity bonding of a PDB grows about quadratically: 20,000 atoms
# 0.7 s, 50,000 1.7 s, 100,000 8-19 s on these machines.  Above this, bonds
# come from CONECT records only (recorded in warnings).
_PROXIMITY_BONDING_ATOMS = 100_000
# ETKDG's own time limit, for both attempts together: a 600-atom chain takes ~11 s, 900 atoms
# ~46 s, and 998 (just under DARKROOM_MAX_EMBED_ATOMS) is stopped here at 60 s
# in 213 MiB.  The only clock here, and rdkit's, not darkroom's; rdkit checks it
# only after smoothing the bounds, so the atom bound limits what comes before.
_EMBED_TIMEOUT_S = 60
_DEPICTION_SIZE = (300, 300)


class MoleculeOptions(BaseModel):
    """Options that change the artifact (and so its content address)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Literal["file", "smiles", "rdkit"] = "file"
    file_type: FileType | None = None
    sanitize: bool = True
    convert_to_3d_and_optimize: bool = True
    mmff_optimize_molecule_max_iterations: int = Field(default=200, ge=0, le=MAX_MMFF_ITERATIONS)


def convert(item: ItemInput, options: MoleculeOptions, limits: Limits) -> Output:
    """Check a molecule file, or build a 3-D PDB from a SMILES or a mol block/file.

    Raises
    ------
    InvalidInput: the payload is not what its format needs, or too big; the
        message says what was wrong and what is accepted.
    """
    warnings: list[str] = []
    if options.source == "file":
        fmt = molecule_format(options.file_type, STORED_FORMATS, "molecule")
        return _stored(item.payload.data, fmt, limits, warnings)
    if options.source == "smiles":
        mol = _from_smiles(item.payload.data, options.sanitize, limits)
    else:
        fmt = molecule_format(options.file_type, BUILT_FROM_FORMATS, "molecule from_rdkit")
        mol = _from_file(item.payload.data, fmt, limits, warnings)
    return _built(mol, options, limits, warnings)


# -- files stored as given ---------------------------------------------------------------


def _stored(data: bytes, fmt: str, limits: Limits, warnings: list[str]) -> Output:
    measurements: dict[str, Any] = {}
    related = []
    if fmt == "mmtf":
        check_mmtf(data)
    else:
        text = decode_text(data, fmt, warnings)
        check_declared_atoms(declared_atoms(text, fmt), fmt, limits)
        if fmt in ("pdb", "sdf", "sd", "mol2"):
            mols = _rdkit_mols(text, fmt, warnings)
            measurements = {"atoms": sum(m.GetNumAtoms() for m in mols), "bonds": sum(m.GetNumBonds() for m in mols)}
            related.append(_geometry(mols))
        else:
            atoms = check_text_format(text, fmt)
            if atoms is not None:
                measurements = {"atoms": atoms}
    return Output(data=data, format=fmt, media_type=MEDIA_TYPES[fmt], measurements=measurements,
                  warnings=warnings, related=related)


def _rdkit_mols(text: str, fmt: str, warnings: list[str]) -> list[Any]:
    """The file's molecules (an sdf's records), parsed without sanitizing (a file a viewer shows
    need not pass rdkit's valence rules)."""
    Chem = chem()
    text = ascii_text(text)
    if fmt in ("sdf", "sd"):
        mols = []
        supplier = Chem.ForwardSDMolSupplier(io.BytesIO(text.encode("utf-8")), sanitize=False, removeHs=False)
        with rdkit_log() as messages:
            for records, mol in enumerate(supplier, 1):
                if mol is None:
                    raise InvalidInput("invalid_molecule", f"{fmt} record {records} is not a molfile rdkit can "
                                       f"read: {reason(messages, 'unreadable')}")
                mols.append(mol)
        if not mols:
            raise InvalidInput("invalid_molecule", f"{fmt} file holds no molecule record")
    else:
        with rdkit_log() as messages:
            if fmt == "pdb":
                many = (declared_atoms(text, fmt) or 0) > _PROXIMITY_BONDING_ATOMS
                mol = Chem.MolFromPDBBlock(text, sanitize=False, removeHs=False, proximityBonding=not many)
                if many:
                    warnings.append(f"over {_PROXIMITY_BONDING_ATOMS} atoms: bonds counted from CONECT records only")
            else:
                mol = Chem.MolFromMol2Block(text, sanitize=False, removeHs=False)
        if mol is None or mol.GetNumAtoms() == 0:
            raise InvalidInput("invalid_molecule", f"{fmt} file is not a {fmt} molecule rdkit can read: "
                               f"{reason(messages, 'no atoms found')}")
        mols = [mol]
    return mols


# -- molecules built in 3-D ----------------------------------------------------------------


def _from_smiles(data: bytes, sanitize: bool, limits: Limits) -> Any:
    Chem = chem()
    smiles = data.decode("utf-8", errors="replace").strip()
    shown = smiles if len(smiles) <= 200 else smiles[:200] + "..."
    # A SMILES has at least one character per heavy atom: this bounds the parse.
    if len(smiles) > limits.max_points:
        raise InvalidInput("too_large", f"SMILES of {len(smiles)} characters exceeds the bound of "
                           f"{limits.max_points} atoms (DARKROOM_MAX_POINTS)")
    parsable = smiles and smiles.isascii() and smiles.isprintable()  # SMILES is ASCII; rdkit never sees the rest
    with rdkit_log() as messages:
        mol = Chem.MolFromSmiles(smiles, sanitize=sanitize) if parsable else None
    if mol is None or mol.GetNumAtoms() == 0:
        raise InvalidInput("invalid_smiles", f"invalid SMILES {shown!r}: {reason(messages, 'no atoms')}; "
                           "accepted: a SMILES string such as 'CCO'")
    return mol


def _from_file(data: bytes, fmt: str, limits: Limits, warnings: list[str]) -> Any:
    """The (first) molecule of a mol, sdf or mol2 payload, sanitized."""
    Chem = chem()
    text = ascii_text(decode_text(data, fmt, warnings))
    if fmt in ("sdf", "sd"):
        head, sep, rest = text.partition("$$$$")
        if sep and rest.strip():
            warnings.append(f"the {fmt} file holds more than one molecule; the first was used")
        text, fmt = head, "mol"
    check_declared_atoms(declared_atoms(text, fmt), fmt, limits)
    read = Chem.MolFromMolBlock if fmt == "mol" else Chem.MolFromMol2Block
    with rdkit_log() as messages:
        mol = read(text, removeHs=False)
    if mol is None or mol.GetNumAtoms() == 0:
        raise InvalidInput("invalid_molecule", f"{fmt} data is not a molecule rdkit can read and sanitize: "
                           f"{reason(messages, 'no atoms')}; accepted: a valid mol, sdf or mol2 molecule")
    return mol


def _built(mol: Any, options: MoleculeOptions, limits: Limits, warnings: list[str]) -> Output:
    from rdkit import Chem

    try:
        if not options.sanitize:
            mol.UpdatePropertyCache(strict=False)  # AddHs needs implicit valences
        with_hydrogens = mol.GetNumAtoms() + sum(atom.GetTotalNumHs() for atom in mol.GetAtoms())
        if options.convert_to_3d_and_optimize and with_hydrogens > limits.max_points:
            raise InvalidInput("too_large", f"molecule of {with_hydrogens} atoms with hydrogens exceeds the "
                               f"bound of {limits.max_points} (DARKROOM_MAX_POINTS)")
        if options.convert_to_3d_and_optimize:
            check_embed_atoms(with_hydrogens, limits)
        depiction = _depiction(mol, warnings)
        if options.convert_to_3d_and_optimize:
            mol = Chem.AddHs(mol, addCoords=mol.GetNumConformers() > 0)
            _embed(mol)
            _optimize(mol, options.mmff_optimize_molecule_max_iterations, warnings)
        elif mol.GetNumConformers() == 0:
            from rdkit.Chem import rdDepictor

            rdDepictor.Compute2DCoords(mol)
            warnings.append("no 3-D coordinates (convert_to_3d_and_optimize=False): the PDB holds the "
                            "2-D depiction coordinates, z = 0")
        pdb = Chem.MolToPDBBlock(mol)
    except (RuntimeError, ValueError) as e:
        raise InvalidInput("invalid_molecule", f"rdkit could not build this molecule: {e}") from None
    related = [depiction] if depiction else []
    related.append(_geometry([mol]))
    return Output(data=pdb.encode("utf-8"), format="pdb", media_type=MEDIA_TYPES["pdb"],
                  measurements={"atoms": mol.GetNumAtoms(), "bonds": mol.GetNumBonds()},
                  warnings=warnings, related=related)


def _embed(mol: Any) -> None:
    """ETKDG coordinates for `mol`, in at most _EMBED_TIMEOUT_S seconds for both attempts together."""
    from rdkit.Chem import rdDistGeom

    deadline = time.monotonic() + _EMBED_TIMEOUT_S
    for random_coords in (False, True):  # random starting coordinates help large or strained molecules
        left = int(deadline - time.monotonic())
        if left < 1:
            break
        params = rdDistGeom.ETKDGv3()  # what EmbedMolecule uses by default
        params.randomSeed = _SEED
        params.useRandomCoords = random_coords
        params.timeout = left
        if rdDistGeom.EmbedMolecule(mol, params) == 0:
            return
    raise InvalidInput(
        "embedding_failed",
        f"rdkit could not embed 3-D coordinates for this molecule of {mol.GetNumAtoms()} atoms "
        f"(ETKDG, twice, at most {_EMBED_TIMEOUT_S} s in all); convert_to_3d_and_optimize=False "
        "keeps the input coordinates",
    )


def _optimize(mol: Any, iterations: int, warnings: list[str]) -> None:
    from rdkit.Chem import rdForceFieldHelpers

    if iterations == 0:
        return
    if not rdForceFieldHelpers.MMFFHasAllMoleculeParams(mol):
        warnings.append("MMFF has no parameters for some atoms: the embedded coordinates are not optimised")
        return
    if rdForceFieldHelpers.MMFFOptimizeMolecule(mol, maxIters=iterations) == 1:
        warnings.append(f"MMFF optimisation did not converge in {iterations} iterations "
                        "(mmff_optimize_molecule_max_iterations)")


def _depiction(mol: Any, warnings: list[str]) -> RelatedOutput | None:
    """A 2-D drawing of the heavy-atom structure (hydrogens as rdkit's drawing shows them)."""
    from rdkit import Chem
    from rdkit.Chem import rdDepictor

    try:
        # rdkit's drawing links libXrender, libX11 and libXext (STACK_NOTES.md): a
        # worker without them still builds the PDB, and says why there is no PNG.
        from rdkit.Chem import Draw
    except ImportError as e:
        warnings.append(f"no depiction: rdkit.Chem.Draw could not load ({e}); on Debian: "
                        "apt-get install libxrender1 libxext6 libx11-6")
        return None
    try:
        flat = Chem.RemoveHs(mol, sanitize=False)
        rdDepictor.Compute2DCoords(flat)
        image = Draw.MolToImage(flat, size=_DEPICTION_SIZE)
    except (RuntimeError, ValueError) as e:
        warnings.append(f"no depiction: rdkit could not draw the molecule ({e})")
        return None
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return RelatedOutput(role="depiction", data=buf.getvalue(), format="png", media_type="image/png",
                         info={"width": image.width, "height": image.height})


# -- shared -------------------------------------------------------------------------------------

# rdkit's bond type as the viewer draws it: 1 single, 2 double, 3 triple, 4 aromatic, 0 anything else.
_BOND_ORDERS = {"SINGLE": 1, "DOUBLE": 2, "TRIPLE": 3, "AROMATIC": 4}


def _geometry(mols: list[Any]) -> RelatedOutput:
    """The atoms and bonds of `mols` (an sdf's records side by side) as a geometry file
    (workers/converters/geometry.py): ``positions`` (float32 A×3, Å), ``elements`` (uint8 A,
    atomic numbers), ``bonds`` (uint32 B×2, atom indices) and ``bond_orders`` (uint8 B, see
    `_BOND_ORDERS`).  A molecule without coordinates has its atoms at 0."""
    positions, elements, bonds, orders = [], [], [], []
    offset = 0
    for mol in mols:
        n = mol.GetNumAtoms()
        positions.append(mol.GetConformer().GetPositions() if mol.GetNumConformers() else np.zeros((n, 3)))
        elements.append(np.array([a.GetAtomicNum() for a in mol.GetAtoms()], dtype=np.int64).reshape(n))
        pairs = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
        bonds.append(np.array(pairs, dtype=np.int64).reshape(len(pairs), 2) + offset)
        orders.append(np.array([_BOND_ORDERS.get(str(b.GetBondType()), 0) for b in mol.GetBonds()], dtype=np.int64))
        offset += n
    xyz = np.concatenate(positions).astype(np.float64).reshape(-1, 3)
    arrays = {
        "positions": xyz,
        "elements": np.clip(np.concatenate(elements), 0, 255).astype(np.uint8),
        "bonds": np.concatenate(bonds).astype(np.uint32).reshape(-1, 2),
        "bond_orders": np.concatenate(orders).astype(np.uint8),
    }
    info = {"atoms": len(xyz), "bonds": len(arrays["bonds"]), "bounds": geometry.bounds(xyz),
            "bond_orders": {"1": "single", "2": "double", "3": "triple", "4": "aromatic", "0": "other"}}
    return RelatedOutput(role="geometry", data=geometry.encode("molecule", arrays, info), format="bin",
                         media_type=geometry.MEDIA_TYPE, info={"atoms": info["atoms"], "bonds": info["bonds"]})


CONVERTER = Converter(name="molecule", version=VERSION, options_model=MoleculeOptions, convert=convert)
