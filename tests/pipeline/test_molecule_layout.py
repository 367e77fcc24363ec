"""Tests of darkroom.pipeline.molecule_layout: molecule formats, MMFF iterations and atom bounds (MEDIA_TYPES.md, Molecule)."""

from __future__ import annotations

import numpy as np
import pytest

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.molecule_layout import (
    BUILT_FROM_FORMATS,
    STORED_FORMATS,
    check_declared_atoms,
    check_embed_atoms,
    check_iterations,
    molecule_format,
)
from darkroom.pipeline.settings import Limits


def test_formats_are_checked_in_any_case_against_the_list_given() -> None:
    assert molecule_format("PDB", STORED_FORMATS, "Molecule") == "pdb"
    assert molecule_format("mol", BUILT_FROM_FORMATS, "Molecule.from_rdkit") == "mol"
    with pytest.raises(InvalidInput) as info:
        molecule_format("mol", STORED_FORMATS, "Molecule")
    assert (info.value.code, info.value.message) == (
        "invalid_options", f"Molecule file_type='mol'; accepted: {', '.join(STORED_FORMATS)}")
    with pytest.raises(InvalidInput):
        molecule_format(None, STORED_FORMATS, "Molecule")


@pytest.mark.parametrize("value", [-1, 100_001, 2.5, True, "200", None])
def test_iterations_outside_0_to_100000_are_refused(value) -> None:
    with pytest.raises(InvalidInput) as info:
        check_iterations(value, "Molecule.from_smiles")
    assert info.value.message == (f"Molecule.from_smiles mmff_optimize_molecule_max_iterations={value!r}; "
                                  "accepted: an int from 0 to 100000")


def test_iterations_may_be_numpy_integers() -> None:
    assert check_iterations(np.int64(50), "w") == 50
    assert check_iterations(0, "w") == 0


def test_declared_and_embedded_atoms_name_their_settings() -> None:
    limits = Limits(max_points=10, max_embed_atoms=5)
    check_declared_atoms(None, "cif", limits)
    check_declared_atoms(10, "pdb", limits)
    check_embed_atoms(5, limits)
    with pytest.raises(InvalidInput) as info:
        check_declared_atoms(11, "pdb", limits)
    assert info.value.message == "pdb file declares 11 atoms; the bound is 10 (DARKROOM_MAX_POINTS)"
    with pytest.raises(InvalidInput) as info:
        check_embed_atoms(6, limits)
    assert info.value.code == "too_large"
    assert "6 atoms with hydrogens exceeds the bound of 5 atoms embedded in 3-D (DARKROOM_MAX_EMBED_ATOMS)" in (
        info.value.message)
