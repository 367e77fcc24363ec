"""Which molecule formats are stored or built in 3-D, and the bounds of a molecule (MEDIA_TYPES.md, Molecule).

One rule, used twice: the SDK applies what is cheap at construction (the
format, the MMFF iterations) and the worker applies all of it again, because
workers never trust a message.  `what` names the argument in the message
("Molecule", "Molecule.from_rdkit" in the SDK, "molecule" in the worker).
"""

from __future__ import annotations

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits

# Formats stored as given.
STORED_FORMATS = ("pdb", "pqr", "mmcif", "mcif", "cif", "sdf", "sd", "gro", "mol2", "mmtf")
# Formats a 3-D structure is built from (`from_rdkit`): those that hold bond
# orders (a PDB does not; it is logged with `Molecule(path)`, stored as given).
BUILT_FROM_FORMATS = ("mol", "sdf", "sd", "mol2")
# A stored format to the media type it is stored and served with.
MEDIA_TYPES = {
    "pdb": "chemical/x-pdb", "pqr": "chemical/x-pqr", "mmcif": "chemical/x-mmcif",
    "mcif": "chemical/x-mmcif", "cif": "chemical/x-cif", "sdf": "chemical/x-mdl-sdfile",
    "sd": "chemical/x-mdl-sdfile", "gro": "chemical/x-gro", "mol2": "chemical/x-mol2",
    "mmtf": "application/x-mmtf",
}
# MMFF iterations a caller may ask for: far above what converges any molecule
# that fits DARKROOM_MAX_EMBED_ATOMS, and it bounds the worker's time.
MAX_MMFF_ITERATIONS = 100_000


def molecule_format(file_type: object, accepted: tuple[str, ...], what: str) -> str:
    """`file_type` in lower case, if it is one of `accepted`.

    Raises
    ------
    InvalidInput (``invalid_options``): not a str naming an accepted format.
    """
    if not isinstance(file_type, str) or file_type.lower() not in accepted:
        raise InvalidInput("invalid_options", f"{what} file_type={file_type!r}; accepted: {', '.join(accepted)}")
    return file_type.lower()


def check_iterations(iterations: object, what: str) -> int:
    """The MMFF iterations asked for, as an int.

    Raises
    ------
    InvalidInput (``invalid_options``): not an int from 0 to MAX_MMFF_ITERATIONS.
    """
    # numpy integers pass as ints (`__index__`); bools do not, though Python counts them as ints.
    index = getattr(type(iterations), "__index__", None)
    if isinstance(iterations, bool) or index is None or not 0 <= index(iterations) <= MAX_MMFF_ITERATIONS:
        raise InvalidInput("invalid_options", f"{what} mmff_optimize_molecule_max_iterations={iterations!r}; "
                           f"accepted: an int from 0 to {MAX_MMFF_ITERATIONS}")
    return index(iterations)


def check_declared_atoms(atoms: int | None, fmt: str, limits: Limits) -> None:
    """Refuse a file that declares more atoms than DARKROOM_MAX_POINTS, before a parser builds them.

    Raises
    ------
    InvalidInput (``too_large``).
    """
    if atoms is not None and atoms > limits.max_points:
        raise InvalidInput("too_large", f"{fmt} file declares {atoms} atoms; the bound is "
                           f"{limits.max_points} (DARKROOM_MAX_POINTS)")


def check_embed_atoms(atoms: int, limits: Limits) -> None:
    """Refuse to embed a molecule in 3-D whose atoms (hydrogens included) exceed DARKROOM_MAX_EMBED_ATOMS.

    ETKDG does not look at its own timeout while it smooths the distance
    bounds, which grows as atoms**3: the bound, not the timeout, is what
    keeps a long SMILES from running for minutes (issue 16, item 12).

    Raises
    ------
    InvalidInput (``too_large``).
    """
    if atoms > limits.max_embed_atoms:
        raise InvalidInput(
            "too_large",
            f"molecule of {atoms} atoms with hydrogens exceeds the bound of {limits.max_embed_atoms} atoms "
            "embedded in 3-D (DARKROOM_MAX_EMBED_ATOMS); accepted: a smaller molecule, or "
            "convert_to_3d_and_optimize=False (2-D coordinates)",
        )
