"""darkroom.Molecule: what the constructors snapshot and refuse (MEDIA_TYPES.md, Molecule), then a run end to end.

The constructors need no run and never parse a file or a SMILES.  The last
test logs every form in one embedded run and reads the molecules back with rdkit.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rdkit import Chem
from rdkit.Chem import AllChem

import darkroom
from darkroom._media import BytesSnapshot, FileSnapshot

FORMATS = "pdb, pqr, mmcif, mcif, cif, sdf, sd, gro, mol2, mmtf"


def pdb_text(smiles: str = "CCO") -> str:
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=5)
    return Chem.MolToPDBBlock(mol)


# -- files ---------------------------------------------------------------------------------------------


def test_a_path_is_snapshotted_by_name_with_its_format_and_never_read_here(tmp_path: Path) -> None:
    path = tmp_path / "ligand.PDB"
    path.write_text("not even a molecule")  # the worker judges the contents, not the constructor
    molecule = darkroom.Molecule(path, caption="ligand")
    assert molecule._payload == FileSnapshot(str(path.resolve()), "pdb")
    assert molecule._options == {"source": "file", "file_type": "pdb"}
    assert molecule.caption == "ligand" and molecule.kind == "molecule"


def test_file_type_overrides_a_paths_extension(tmp_path: Path) -> None:
    path = tmp_path / "structure.ent"
    path.write_text(pdb_text())
    molecule = darkroom.Molecule(str(path), file_type="PDB")
    assert molecule._payload == FileSnapshot(str(path.resolve()), "pdb") and molecule._options["file_type"] == "pdb"


def test_an_unknown_extension_is_refused_listing_the_formats(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("x")
    with pytest.raises(ValueError) as info:
        darkroom.Molecule(path)
    assert str(info.value) == (f"Molecule: cannot tell the format of {str(path)!r} from its extension '.txt'; "
                               f"accepted: {FORMATS} (or pass file_type=)")


def test_a_missing_path_is_refused_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "gone.sdf"
    with pytest.raises(FileNotFoundError) as info:
        darkroom.Molecule(missing)
    assert str(info.value) == f"Molecule: no file at {str(missing)!r}; accepted: a path to a {FORMATS} file"


def test_open_text_and_binary_files_are_copied_whole_and_need_a_file_type() -> None:
    text = io.StringIO("ATOM ...")
    molecule = darkroom.Molecule(text, file_type="pqr")
    text.close()  # the caller may close it after the call
    assert molecule._payload == BytesSnapshot(b"ATOM ...", "pqr")
    assert darkroom.Molecule(io.BytesIO(b"\x81\xa1a\x01"), file_type="mmtf")._payload.data == b"\x81\xa1a\x01"
    with pytest.raises(ValueError) as info:
        darkroom.Molecule(io.BytesIO(b"x"))
    assert str(info.value) == f"Molecule: an open file needs file_type=; accepted: {FORMATS}"


@pytest.mark.parametrize(("data", "kwargs", "error", "text"), [
    (42, {}, TypeError, f"Molecule got int; accepted: a path to a {FORMATS} file, or an open file with file_type="),
    ("x.pdb", {"file_type": "xyz"}, ValueError, f"Molecule file_type='xyz'; accepted: {FORMATS}"),
    ("x.pdb", {"caption": 3}, TypeError, "caption must be a str; got int 3"),
])
def test_other_arguments_are_refused_naming_what_was_given(data, kwargs, error, text) -> None:
    with pytest.raises(error) as info:
        darkroom.Molecule(data, **kwargs)
    assert str(info.value) == text


# -- SMILES and rdkit ---------------------------------------------------------------------------------------


def test_from_smiles_sends_the_smiles_text_and_its_options() -> None:
    molecule = darkroom.Molecule.from_smiles("  CCO\n", caption="ethanol", sanitize=False,
                                             mmff_optimize_molecule_max_iterations=np.int64(50))
    assert molecule._payload == BytesSnapshot(b"CCO", "smi", "chemical/x-daylight-smiles")
    assert molecule._options == {"source": "smiles", "file_type": None, "sanitize": False,
                                 "convert_to_3d_and_optimize": True, "mmff_optimize_molecule_max_iterations": 50}
    assert molecule.caption == "ethanol"


@pytest.mark.parametrize(("smiles", "kwargs", "error", "text"), [
    (None, {}, TypeError, "Molecule.from_smiles smiles must be a str; got NoneType None"),
    ("  ", {}, ValueError, "Molecule.from_smiles smiles is empty; accepted: a SMILES string such as 'CCO'"),
    ("C", {"mmff_optimize_molecule_max_iterations": -1}, ValueError,
     "Molecule.from_smiles mmff_optimize_molecule_max_iterations=-1; accepted: an int from 0 to 100000"),
    ("C", {"mmff_optimize_molecule_max_iterations": 2.5}, ValueError,
     "Molecule.from_smiles mmff_optimize_molecule_max_iterations=2.5; accepted: an int from 0 to 100000"),
    ("C", {"caption": b"x"}, TypeError, "caption must be a str; got bytes b'x'"),
])
def test_from_smiles_refuses_what_is_not_a_smiles_string_or_a_valid_option(smiles, kwargs, error, text) -> None:
    with pytest.raises(error) as info:
        darkroom.Molecule.from_smiles(smiles, **kwargs)
    assert str(info.value) == text


def test_from_rdkit_writes_the_callers_mol_as_a_mol_block_now() -> None:
    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    molecule = darkroom.Molecule.from_rdkit(mol, convert_to_3d_and_optimize=False)
    mol.GetConformer().SetAtomPosition(0, (99.0, 99.0, 99.0))  # later changes are not logged
    payload = molecule._payload
    assert isinstance(payload, BytesSnapshot) and (payload.ext, payload.media_type) == ("mol", "chemical/x-mdl-molfile")
    back = Chem.MolFromMolBlock(payload.data.decode(), removeHs=False)
    assert back.GetNumAtoms() == 9 and back.GetConformer().GetAtomPosition(0).x != 99.0
    assert molecule._options == {"source": "rdkit", "file_type": "mol", "convert_to_3d_and_optimize": False,
                                 "mmff_optimize_molecule_max_iterations": 200}


def test_from_rdkit_takes_a_path_of_a_format_rdkit_reads(tmp_path: Path) -> None:
    path = tmp_path / "ligands.sdf"
    path.write_text(Chem.MolToMolBlock(Chem.MolFromSmiles("O")) + "$$$$\n")
    molecule = darkroom.Molecule.from_rdkit(path)
    assert molecule._payload == FileSnapshot(str(path.resolve()), "sdf")
    assert molecule._options["source"] == "rdkit" and molecule._options["file_type"] == "sdf"
    gro = tmp_path / "box.gro"
    gro.write_text("x")
    with pytest.raises(ValueError) as info:
        darkroom.Molecule.from_rdkit(gro)
    assert str(info.value) == (f"Molecule.from_rdkit: cannot tell the format of {str(gro)!r} from its extension "
                               "'.gro'; accepted: mol, sdf, sd, mol2")
    with pytest.raises(TypeError) as info:
        darkroom.Molecule.from_rdkit(["C"])
    assert str(info.value) == ("Molecule.from_rdkit got list; accepted: an rdkit.Chem.Mol or a path to a "
                               "mol, sdf, sd, mol2 file")


def test_building_molecules_loads_no_rdkit_and_no_worker_code() -> None:
    code = ("import json, sys, io, darkroom\n"
            "darkroom.Molecule.from_smiles('CCO'); darkroom.Molecule(io.StringIO('x'), file_type='pdb')\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('rdkit', 'PIL', 'pydantic') "
            "or m.startswith('darkroom.workers'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


# -- end to end ---------------------------------------------------------------------------------------------


def test_a_run_builds_smiles_in_3d_keeps_files_as_given_and_fails_bad_molecules_alone(embedded_env, tmp_path) -> None:
    pdb = pdb_text("CC(=O)O")
    pdb_path = tmp_path / "acid.pdb"
    pdb_path.write_text(pdb)
    sdf = Chem.MolToMolBlock(Chem.MolFromSmiles("c1ccccc1")) + "$$$$\n"
    empty = tmp_path / "empty.mol2"
    empty.write_text("")
    mol = Chem.MolFromSmiles("CN1C=NC2=C1C(=O)N(C(=O)N2C)C")  # caffeine, 2-D

    run = darkroom.init(project="chem")
    run.log({"aspirin": darkroom.Molecule.from_smiles("CC(=O)Oc1ccccc1C(=O)O", caption="aspirin"),
             "acid": darkroom.Molecule(pdb_path),
             "benzene": darkroom.Molecule(io.BytesIO(sdf.encode()), file_type="sdf"),
             "caffeine": darkroom.Molecule.from_rdkit(mol)})
    run.log({"bad": [darkroom.Molecule.from_smiles("C1CC"), darkroom.Molecule(empty)]})
    report = run.finish(quiet=True)

    assert (report.converted, report.pending, report.spooled) == (4, 0, 0)
    assert [(f.key, f.index, f.code) for f in report.failed] == [("bad", 0, "invalid_smiles"), ("bad", 1, "empty_file")]
    assert "invalid SMILES 'C1CC': SMILES Parse Error: unclosed ring" in report.failed[0].message

    reader = darkroom.Api().run(run.path)

    def read(key: str) -> tuple[dict, bytes]:
        (manifest,) = reader.manifests(key=key)
        assert manifest["status"] == "ok" and manifest["kind"] == "molecule", manifest
        return manifest, reader.read(manifest)

    manifest, data = read("aspirin")
    back = Chem.MolFromPDBBlock(data.decode(), removeHs=False)
    art = manifest["artifact"]
    assert (art["format"], art["media_type"], art["atoms"], art["bonds"]) == ("pdb", "chemical/x-pdb", 21, 21)
    assert back.GetNumAtoms() == 21 and np.ptp(back.GetConformer().GetPositions()[:, 2]) > 0.5
    assert manifest["caption"] == "aspirin" and manifest["converter"]["options"]["source"] == "smiles"
    related, geometry_file = manifest["related"]
    assert (related["role"], related["format"], related["width"]) == ("depiction", "png", 300)
    assert (geometry_file["role"], geometry_file["atoms"], geometry_file["bonds"]) == ("geometry", 21, 21)
    with Image.open(io.BytesIO(reader.read(manifest, role="depiction"))) as image:
        assert image.format == "PNG" and image.size == (300, 300)

    manifest, data = read("acid")
    assert data == pdb.encode() and manifest["artifact"]["atoms"] == 8
    assert [r["role"] for r in manifest["related"]] == ["geometry"]
    assert Chem.MolFromPDBBlock(data.decode(), removeHs=False).GetNumAtoms() == 8

    manifest, data = read("benzene")
    assert (manifest["artifact"]["format"], manifest["artifact"]["atoms"], manifest["artifact"]["bonds"]) == ("sdf", 6, 6)
    assert next(Chem.ForwardSDMolSupplier(io.BytesIO(data))).GetNumAtoms() == 6

    manifest, data = read("caffeine")
    back = Chem.MolFromPDBBlock(data.decode(), removeHs=False)
    assert manifest["artifact"]["atoms"] == back.GetNumAtoms() == 24  # C8H10N4O2
    assert reader.read(manifest, role="depiction").startswith(b"\x89PNG")
