"""workers/converters/molecule.py: every accepted form read back with rdkit, every refused one with its message."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from PIL import Image
from rdkit import Chem
from rdkit.Chem import AllChem

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits, Settings
from darkroom.workers.converters import ItemInput, Output, Payload, converter_for
from darkroom.workers.converters.molecule import CONVERTER, MoleculeOptions, convert

# -- building inputs ------------------------------------------------------------------------

ETHANOL_MOL2 = """@<TRIPOS>MOLECULE
ethanol
 9 8 0 0 0
SMALL
NO_CHARGES

@<TRIPOS>ATOM
      1 C1         -0.9720    0.3240   -0.0090 C.3     1  ETH1        0.0000
      2 C2          0.4310   -0.1660    0.2770 C.3     1  ETH1        0.0000
      3 O1          1.1340   -0.2980   -0.9490 O.3     1  ETH1        0.0000
      4 H1         -1.5430    0.4370    0.9180 H       1  ETH1        0.0000
      5 H2         -1.4820   -0.3870   -0.6620 H       1  ETH1        0.0000
      6 H3         -0.9310    1.2970   -0.5100 H       1  ETH1        0.0000
      7 H4          0.9550    0.5400    0.9330 H       1  ETH1        0.0000
      8 H5          0.3990   -1.1390    0.7850 H       1  ETH1        0.0000
      9 H6          2.0000   -0.6000   -0.7000 H       1  ETH1        0.0000
@<TRIPOS>BOND
     1     1     2    1
     2     2     3    1
     3     1     4    1
     4     1     5    1
     5     1     6    1
     6     2     7    1
     7     2     8    1
     8     3     9    1
"""

WATER_PQR = """REMARK   water
ATOM      1  O   HOH     1       0.000   0.000   0.000 -0.8340 1.7683
ATOM      2  H1  HOH     1       0.957   0.000   0.000  0.4170 0.2245
ATOM      3  H2  HOH     1      -0.240   0.927   0.000  0.4170 0.2245
END
"""

WATER_MMCIF = """data_water
#
loop_
_atom_site.group_PDB
_atom_site.id
_atom_site.type_symbol
_atom_site.Cartn_x
_atom_site.Cartn_y
_atom_site.Cartn_z
HETATM 1 O 0.000 0.000 0.000
HETATM 2 H 0.957 0.000 0.000
HETATM 3 H -0.240 0.927 0.000
#
"""

WATER_GRO = """water
    3
    1SOL     OW    1   0.000   0.000   0.000
    1SOL    HW1    2   0.096   0.000   0.000
    1SOL    HW2    3  -0.024   0.093   0.000
   1.00000   1.00000   1.00000
"""

# A MessagePack map {"numAtoms": 3}: what an MMTF file starts with.
MMTF = b"\x81\xa8numAtoms\x03"


def embedded(smiles: str) -> Any:
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    return mol


def sdf_text(*smiles: str) -> str:
    return "".join(Chem.MolToMolBlock(embedded(s)) + "$$$$\n" for s in smiles)


def item(data: bytes | str, ext: str = "bin") -> ItemInput:
    raw = data.encode() if isinstance(data, str) else data
    return ItemInput(Payload(raw, "application/octet-stream", ext))


def run(data: bytes | str, limits: Limits = Limits(), **options: Any) -> Output:
    return convert(item(data), MoleculeOptions(**options), limits)


def stored(data: bytes | str, fmt: str, limits: Limits = Limits()) -> Output:
    return run(data, limits, source="file", file_type=fmt)


def refused(data: bytes | str, code: str, limits: Limits = Limits(), **options: Any) -> str:
    with pytest.raises(InvalidInput) as info:
        run(data, limits, **options)
    assert info.value.code == code, info.value.message
    return info.value.message


def read_pdb(output: Output) -> Any:
    mol = Chem.MolFromPDBBlock(output.data.decode(), removeHs=False)
    assert mol is not None
    return mol


# -- files stored as given -------------------------------------------------------------------


def test_a_pdb_file_is_stored_byte_for_byte_with_rdkits_atom_and_bond_counts() -> None:
    pdb = Chem.MolToPDBBlock(embedded("CC(=O)O"))
    output = stored(pdb, "pdb")
    assert output.data == pdb.encode() and (output.format, output.media_type) == ("pdb", "chemical/x-pdb")
    assert output.measurements == {"atoms": 8, "bonds": 7} and read_pdb(output).GetNumAtoms() == 8
    assert [r.role for r in output.related] == ["geometry"] and output.warnings == []


@pytest.mark.parametrize("fmt", ["sdf", "sd"])
def test_an_sdf_file_counts_the_atoms_and_bonds_of_every_record(fmt: str) -> None:
    text = sdf_text("CCO", "O")
    output = stored(text, fmt)
    assert output.data == text.encode() and output.format == fmt
    assert output.measurements == {"atoms": 9 + 3, "bonds": 8 + 2}
    records = list(Chem.ForwardSDMolSupplier(io.BytesIO(output.data), removeHs=False))
    assert [m.GetNumAtoms() for m in records] == [9, 3]


def test_a_mol2_file_is_parsed_by_rdkit_and_stored_as_given() -> None:
    output = stored(ETHANOL_MOL2, "mol2")
    assert output.measurements == {"atoms": 9, "bonds": 8} and output.data == ETHANOL_MOL2.encode()
    assert Chem.MolFromMol2Block(output.data.decode(), removeHs=False).GetNumAtoms() == 9


def test_pqr_mmcif_and_gro_files_are_checked_as_text_and_their_atoms_counted() -> None:
    assert stored(WATER_PQR, "pqr").measurements == {"atoms": 3}
    for fmt in ("cif", "mmcif", "mcif"):
        output = stored(WATER_MMCIF, fmt)
        assert output.measurements == {"atoms": 3} and output.data == WATER_MMCIF.encode()
    output = stored(WATER_GRO, "gro")
    assert output.measurements == {"atoms": 3} and output.media_type == "chemical/x-gro"


def test_a_small_molecule_cif_without_atom_records_is_kept_with_no_atom_count() -> None:
    cif = "data_nacl\n_cell_length_a 5.64\nloop_\n_atom_site_label\n_atom_site_fract_x\nNa1 0.0\nCl1 0.5\n"
    assert stored(cif, "cif").measurements == {}


def test_an_mmtf_file_is_checked_as_a_messagepack_map_and_stored_as_given() -> None:
    output = stored(MMTF, "mmtf")
    assert output.data == MMTF and output.measurements == {} and output.format == "mmtf"


def test_a_file_that_is_not_utf8_is_read_as_latin1_with_a_warning() -> None:
    pdb = "REMARK   caf\xe9\n" + Chem.MolToPDBBlock(embedded("O"))
    output = stored(pdb.encode("latin-1"), "pdb")
    assert output.measurements["atoms"] == 3
    assert output.warnings == ["pdb file is not UTF-8 (byte 12); read as Latin-1 to check it, stored as given"]


# -- files refused ----------------------------------------------------------------------------------


def test_a_text_file_that_rdkit_cannot_read_as_pdb_is_refused() -> None:
    message = refused("hello, I am not a protein\n", "invalid_molecule", source="file", file_type="pdb")
    assert message.startswith("pdb file is not a pdb molecule rdkit can read")


def test_an_sdf_with_a_broken_second_record_names_that_record() -> None:
    text = sdf_text("CCO") + "garbage\n\n\n  x  y\nM  END\n$$$$\n"
    message = refused(text, "invalid_molecule", source="file", file_type="sdf")
    assert message.startswith("sdf record 2 is not a molfile rdkit can read")


def test_an_empty_file_and_a_binary_file_are_refused_before_parsing() -> None:
    assert refused(b"  \n", "empty_file", source="file", file_type="mol2") == (
        "mol2 file is empty; accepted: a mol2 file with at least one atom")
    message = refused(b"ATOM\x00\x01", "invalid_molecule", source="file", file_type="pdb")
    assert message == ("pdb file is not text: byte b'\\x00' at offset 4; accepted: a text pdb file "
                       "(mmtf is the only binary format)")


def test_malformed_pqr_mmcif_and_gro_files_name_what_is_wrong() -> None:
    assert refused("ATOM 1 O HOH 1 0 0 zero\n", "invalid_molecule", source="file", file_type="pqr").startswith(
        "pqr line 1 is not an atom record with x y z charge radius")
    assert refused("REMARK only\n", "invalid_molecule", source="file", file_type="pqr") == (
        "pqr file has no ATOM or HETATM records; accepted: a PQR file")
    assert refused("loop_\n_atom_site.id\n", "invalid_molecule", source="file", file_type="mmcif").startswith(
        "mmcif file does not start with a data_ block (first line 'loop_')")
    assert refused("data_x\n_cell.length_a 1\n", "invalid_molecule", source="file", file_type="cif") == (
        "cif file has no _atom_site items: it holds no atoms")
    assert refused("water\n    5\n" + WATER_GRO.split("\n", 2)[2], "invalid_molecule", source="file",
                   file_type="gro") == ("gro file declares 5 atoms but has 4 lines after the count; it needs 6 "
                                        "(one per atom, then the box)")
    assert refused("water\nthree\n", "invalid_molecule", source="file", file_type="gro") == (
        "gro file's second line must be the atom count; got 'three'")


def test_an_mmtf_that_is_not_a_messagepack_map_is_refused_with_a_hint_for_gzip() -> None:
    assert refused(b"", "empty_file", source="file", file_type="mmtf").startswith("mmtf file is empty")
    message = refused(b"\x1f\x8b\x08\x00", "invalid_molecule", source="file", file_type="mmtf")
    assert message == ("mmtf file does not start with a MessagePack map (first byte 0x1f) (gzip: decompress "
                       ".mmtf.gz first); accepted: an uncompressed MMTF file")


def test_a_file_declaring_more_atoms_than_the_bound_is_refused_before_rdkit_reads_it() -> None:
    limits = Limits(max_points=5)
    assert stored(Chem.MolToPDBBlock(embedded("O")), "pdb", limits).measurements["atoms"] == 3
    message = refused(Chem.MolToPDBBlock(embedded("CCO")), "too_large", limits, source="file", file_type="pdb")
    assert message == "pdb file declares 9 atoms; the bound is 5 (DARKROOM_MAX_POINTS)"
    assert "declares 9 atoms" in refused(sdf_text("CCO"), "too_large", limits, source="file", file_type="sdf")
    assert "declares 6 atoms" in refused(
        WATER_GRO.replace("    3\n", "    6\n", 1), "too_large", limits, source="file", file_type="gro")


def test_a_file_option_must_name_a_stored_format() -> None:
    message = refused(b"x", "invalid_options", source="file", file_type="mol")
    assert message == "molecule file_type='mol'; accepted: pdb, pqr, mmcif, mcif, cif, sdf, sd, gro, mol2, mmtf"


# -- SMILES built in 3-D ----------------------------------------------------------------------------


def test_a_smiles_becomes_a_3d_pdb_with_hydrogens_and_a_depiction_png() -> None:
    output = run("CC(=O)Oc1ccccc1C(=O)O", source="smiles")  # aspirin: C9H8O4
    mol = read_pdb(output)
    assert output.format == "pdb" and output.measurements == {"atoms": 21, "bonds": 21}
    assert sorted(a.GetSymbol() for a in mol.GetAtoms()).count("H") == 8
    z = mol.GetConformer().GetPositions()[:, 2]
    assert np.ptp(z) > 0.5  # 3-D, not a flat drawing
    depiction, geometry_file = output.related
    assert geometry_file.role == "geometry"
    assert (depiction.role, depiction.format, depiction.media_type) == ("depiction", "png", "image/png")
    with Image.open(io.BytesIO(depiction.data)) as image:
        assert image.format == "PNG" and image.size == (300, 300)
        assert len(np.unique(np.asarray(image.convert("L")))) > 2  # something is drawn
    assert depiction.info == {"width": 300, "height": 300}


def test_the_same_smiles_always_gives_the_same_pdb() -> None:
    assert run("CCN(CC)CC", source="smiles").data == run("CCN(CC)CC", source="smiles").data


def test_without_3d_conversion_the_pdb_holds_flat_depiction_coordinates_and_says_so() -> None:
    output = run("c1ccccc1", source="smiles", convert_to_3d_and_optimize=False)
    mol = read_pdb(output)
    assert output.measurements == {"atoms": 6, "bonds": 6}
    assert np.ptp(mol.GetConformer().GetPositions()[:, 2]) == 0 and np.ptp(mol.GetConformer().GetPositions()[:, 0]) > 1
    assert output.warnings == ["no 3-D coordinates (convert_to_3d_and_optimize=False): the PDB holds the 2-D "
                               "depiction coordinates, z = 0"]


def test_an_optimisation_cut_short_is_recorded_in_warnings() -> None:
    output = run("CCCCCCCCCCCCCCCC", source="smiles", mmff_optimize_molecule_max_iterations=1)
    assert "MMFF optimisation did not converge in 1 iterations (mmff_optimize_molecule_max_iterations)" in output.warnings
    assert run("CCO", source="smiles", mmff_optimize_molecule_max_iterations=0).warnings == []


def test_an_atom_without_mmff_parameters_is_embedded_but_not_optimised() -> None:
    output = run("[Xe]", source="smiles")
    assert output.measurements == {"atoms": 1, "bonds": 0}
    assert output.warnings == ["MMFF has no parameters for some atoms: the embedded coordinates are not optimised"]


def test_an_invalid_smiles_is_refused_naming_it_and_rdkits_reason() -> None:
    message = refused("C1CC", "invalid_smiles", source="smiles")
    assert message == ("invalid SMILES 'C1CC': SMILES Parse Error: unclosed ring for input: 'C1CC'; "
                       "accepted: a SMILES string such as 'CCO'")
    assert "Explicit valence for atom # 0 C, 5" in refused("C(C)(C)(C)(C)C", "invalid_smiles", source="smiles")


def test_an_unsanitized_smiles_that_cannot_be_kekulized_fails_with_rdkits_reason() -> None:
    message = refused("c1cccc1", "invalid_molecule", source="smiles", sanitize=False)
    assert message.startswith("rdkit could not build this molecule: Can't kekulize mol")


def test_a_smiles_over_the_atom_bound_is_refused_naming_the_variable() -> None:
    message = refused("CCCCCC", "too_large", Limits(max_points=10), source="smiles")
    assert message == "molecule of 20 atoms with hydrogens exceeds the bound of 10 (DARKROOM_MAX_POINTS)"
    message = refused("C" * 11, "too_large", Limits(max_points=10), source="smiles")
    assert message == "SMILES of 11 characters exceeds the bound of 10 atoms (DARKROOM_MAX_POINTS)"


# A child that converts one SMILES with the default bounds, in at most 1.5 GiB of address
# space: "C" * 1000 spent 373 s and 3.5 GiB in ETKDG before the bound (issue 16, item 12).
_CONVERT_IN_A_CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Payload
from darkroom.workers.converters.molecule import MoleculeOptions, convert
try:
    out = convert(ItemInput(Payload(sys.argv[1].encode(), "chemical/x-daylight-smiles", "smi")),
                  MoleculeOptions(source="smiles"), Limits())
    print(json.dumps({"atoms": out.measurements["atoms"]}))
except InvalidInput as e:
    print(json.dumps({"code": e.code, "message": e.message}))
"""


def convert_in_a_child(smiles: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", _CONVERT_IN_A_CHILD, smiles], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_item_12_a_smiles_too_large_to_embed_fails_within_the_limit() -> None:
    assert convert_in_a_child("C" * 1000) == {
        "code": "too_large",
        "message": "molecule of 3002 atoms with hydrogens exceeds the bound of 1000 atoms embedded in 3-D "
                   "(DARKROOM_MAX_EMBED_ATOMS); accepted: a smaller molecule, or "
                   "convert_to_3d_and_optimize=False (2-D coordinates)",
    }
    assert convert_in_a_child("CC(=O)Oc1ccccc1C(=O)O") == {"atoms": 21}  # aspirin still builds


def test_the_embedding_bound_is_a_setting_and_does_not_apply_without_3d() -> None:
    limits = Settings.from_env({"DARKROOM_MAX_EMBED_ATOMS": "8"}).limits
    assert limits.max_embed_atoms == 8
    assert "9 atoms with hydrogens exceeds the bound of 8 atoms" in refused("CCO", "too_large", limits,
                                                                            source="smiles")
    output = run("CCO", limits, source="smiles", convert_to_3d_and_optimize=False)
    assert output.measurements == {"atoms": 3, "bonds": 2}
    mol = embedded("CCO")
    assert "DARKROOM_MAX_EMBED_ATOMS" in refused(Chem.MolToMolBlock(mol), "too_large", limits,
                                                 source="rdkit", file_type="mol")


# -- rdkit molecules and files built in 3-D ------------------------------------------------------------


def test_a_mol_block_keeps_its_coordinates_when_3d_conversion_is_off() -> None:
    mol = embedded("CCO")
    output = run(Chem.MolToMolBlock(mol), source="rdkit", file_type="mol", convert_to_3d_and_optimize=False)
    np.testing.assert_allclose(read_pdb(output).GetConformer().GetPositions(),
                               mol.GetConformer().GetPositions(), atol=1e-3)
    assert output.warnings == [] and output.related[0].role == "depiction"


@pytest.mark.parametrize("fmt", ["mol", "sdf", "mol2"])
def test_every_file_form_of_from_rdkit_builds_a_3d_pdb(fmt: str) -> None:
    text = {"mol": Chem.MolToMolBlock(Chem.MolFromSmiles("CCO")), "sdf": sdf_text("CCO"),
            "mol2": ETHANOL_MOL2}[fmt]
    output = run(text, source="rdkit", file_type=fmt)
    assert output.measurements == {"atoms": 9, "bonds": 8}
    assert read_pdb(output).GetNumAtoms() == 9


def test_only_the_first_molecule_of_an_sdf_is_built_and_the_rest_is_recorded() -> None:
    output = run(sdf_text("CCO", "O"), source="rdkit", file_type="sdf")
    assert output.measurements["atoms"] == 9
    assert output.warnings == ["the sdf file holds more than one molecule; the first was used"]


def test_a_mol_block_rdkit_cannot_sanitize_is_refused_with_the_reason() -> None:
    block = Chem.MolToMolBlock(Chem.MolFromSmiles("C(C)(C)(C)(C)C", sanitize=False))
    message = refused(block, "invalid_molecule", source="rdkit", file_type="mol")
    assert message.startswith("mol data is not a molecule rdkit can read and sanitize: Explicit valence")


def test_from_rdkit_file_types_are_checked() -> None:
    assert refused("x", "invalid_options", source="rdkit", file_type="pdb").endswith("accepted: mol, sdf, sd, mol2")
    message = refused("x", "invalid_options", source="rdkit", file_type="gro")
    assert message == "molecule from_rdkit file_type='gro'; accepted: mol, sdf, sd, mol2"


# -- options ----------------------------------------------------------------------------------------------


def test_options_are_typed_and_bounded() -> None:
    assert CONVERTER.parse_options({}) == MoleculeOptions(source="file", file_type=None)
    with pytest.raises(InvalidInput) as info:
        CONVERTER.parse_options({"mmff_optimize_molecule_max_iterations": -1})
    assert info.value.code == "invalid_options"
    assert info.value.message.startswith("molecule options: mmff_optimize_molecule_max_iterations:")
    with pytest.raises(InvalidInput, match=r"molecule options: colour: Extra inputs are not permitted"):
        CONVERTER.parse_options({"colour": 1})


def test_the_molecule_kind_is_registered() -> None:
    assert converter_for("molecule") is CONVERTER



def test_item_12_the_two_embedding_attempts_share_one_time_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """rdkit's ETKDG timeout is per call: the second attempt gets what the first left of the 60 s, not 60 more."""
    from rdkit.Chem import rdDistGeom

    from darkroom.workers.converters import molecule

    clock = [1000.0]
    given: list[int] = []

    def failing_after(seconds: float) -> Any:
        def embed(mol: Any, params: Any) -> int:  # an embedding that gives up after `seconds`
            given.append(params.timeout)
            clock[0] += seconds
            return -1
        return embed

    monkeypatch.setattr(molecule.time, "monotonic", lambda: clock[0])
    ethanol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    for first_takes, timeouts in ((45.0, [60, 15]), (60.0, [60])):
        given.clear()
        monkeypatch.setattr(rdDistGeom, "EmbedMolecule", failing_after(first_takes))
        with pytest.raises(InvalidInput, match=r"ETKDG, twice, at most 60 s in all") as e:
            molecule._embed(ethanol)
        assert e.value.code == "embedding_failed"
        assert given == timeouts
