"""Fuzzing the molecule converter: an Output or an InvalidInput, never another exception or a hang.

Bounded (50 examples each, short SMILES, a low atom bound so no embedding runs
long) so the file runs in seconds.  Where the outcome is predictable (a valid
SMILES builds a PDB rdkit reads back with the counted atoms) it is checked.
"""

from __future__ import annotations

import io
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from rdkit import Chem
from rdkit.Chem import AllChem

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import Output, geometry
from darkroom.workers.converters.molecule import MoleculeOptions, convert

from converter_harness import byte_flips, damaged, file_item, fuzz_settings, run_converter

LIMITS = Limits(max_points=60, max_payload_bytes=1 << 20)
FUZZ = fuzz_settings(50)
STORED = ["pdb", "pqr", "mmcif", "mcif", "cif", "sdf", "sd", "gro", "mol2", "mmtf"]
SMILES_ALPHABET = "CNOSPFClBrI()[]=#@+-123456789cnos.%/\\H"


def outcome(data: bytes, options: MoleculeOptions) -> Output | InvalidInput:
    """Run the converter on a file (converter_harness.run_converter); an Output's PDB must read back."""
    result = run_converter(convert, file_item(data), options, LIMITS)
    if isinstance(result, InvalidInput):
        return result
    atoms = result.measurements.get("atoms")
    assert atoms is None or 0 < atoms <= LIMITS.max_points
    if options.source != "file":
        mol = Chem.MolFromPDBBlock(result.data.decode(), removeHs=False, sanitize=False)
        assert mol is not None and mol.GetNumAtoms() == atoms
        for related in result.related:
            if related.role == "geometry":  # the viewer's binary: every atom, bonds between them
                header, arrays = geometry.decode(related.data)
                assert len(arrays["positions"]) == len(arrays["elements"]) == atoms
                assert not len(arrays["bonds"]) or int(arrays["bonds"].max()) < atoms
                continue
            assert related.role == "depiction"
            Image.open(io.BytesIO(related.data)).load()
    return result


def samples() -> dict[str, bytes]:
    """One valid file of each stored format."""
    mol = Chem.AddHs(Chem.MolFromSmiles("CC(=O)N"))
    AllChem.EmbedMolecule(mol, randomSeed=3)
    pdb = Chem.MolToPDBBlock(mol)
    sdf = Chem.MolToMolBlock(mol) + "$$$$\n"
    mol2 = ("@<TRIPOS>MOLECULE\nm\n 2 1 0 0 0\nSMALL\nNO_CHARGES\n\n@<TRIPOS>ATOM\n"
            "1 O1 0.0 0.0 0.0 O.3 1 M 0.0\n2 H1 0.96 0.0 0.0 H 1 M 0.0\n@<TRIPOS>BOND\n1 1 2 1\n")
    pqr = "ATOM      1  O   HOH     1       0.000   0.000   0.000 -0.8340 1.7683\nEND\n"
    cif = "data_x\nloop_\n_atom_site.group_PDB\n_atom_site.Cartn_x\nATOM 0.0\nATOM 1.0\n"
    gro = "t\n    1\n    1SOL     OW    1   0.000   0.000   0.000\n   1.0   1.0   1.0\n"
    texts = {"pdb": pdb, "pqr": pqr, "mmcif": cif, "mcif": cif, "cif": cif, "sdf": sdf, "sd": sdf, "gro": gro,
             "mol2": mol2}
    return {**{k: v.encode() for k, v in texts.items()}, "mmtf": b"\x82\xa8numAtoms\x01\xa5title\xa1x"}


SAMPLES = samples()


@FUZZ
@given(smiles=st.text(SMILES_ALPHABET, min_size=0, max_size=24), sanitize=st.booleans(),
       build=st.booleans(), iterations=st.sampled_from([0, 5, 50]))
def test_any_smiles_builds_a_pdb_or_is_refused_with_a_message(smiles: str, sanitize: bool, build: bool,
                                                             iterations: int) -> None:
    options = MoleculeOptions(source="smiles", sanitize=sanitize, convert_to_3d_and_optimize=build,
                              mmff_optimize_molecule_max_iterations=iterations)
    result = outcome(smiles.encode(), options)
    parsed = Chem.MolFromSmiles(smiles) if smiles.strip() else None
    if parsed is None and sanitize:
        assert isinstance(result, InvalidInput)


@FUZZ
@given(data=st.binary(max_size=400), text=st.text(max_size=400), fmt=st.sampled_from(STORED))
def test_random_bytes_or_text_as_any_stored_format_never_crash(data: bytes, text: str, fmt: str) -> None:
    outcome(data, MoleculeOptions(source="file", file_type=fmt))
    outcome(text.encode(), MoleculeOptions(source="file", file_type=fmt))


@FUZZ
@given(fmt=st.sampled_from(STORED), cut=st.integers(0, 2000), flips=byte_flips(4))
def test_truncated_or_damaged_files_never_crash(fmt: str, cut: int, flips: list[tuple[int, int]]) -> None:
    result = outcome(damaged(SAMPLES[fmt], flips, cut), MoleculeOptions(source="file", file_type=fmt))
    if not flips and not cut:
        assert isinstance(result, Output)


@FUZZ
@given(fmt=st.sampled_from(["mol", "sdf", "mol2"]), cut=st.integers(0, 800), flips=byte_flips(3),
       build=st.booleans())
def test_damaged_files_given_to_from_rdkit_never_crash(fmt: str, cut: int, flips: list[tuple[int, int]],
                                                      build: bool) -> None:
    data = damaged(SAMPLES["sdf" if fmt == "mol" else fmt], flips, cut)
    options: dict[str, Any] = {"source": "rdkit", "file_type": fmt, "convert_to_3d_and_optimize": build,
                               "mmff_optimize_molecule_max_iterations": 20}
    outcome(data, MoleculeOptions(**options))
