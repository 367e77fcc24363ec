"""Molecule files read as text: sanity checks and atom counts, before any parser allocates.

rdkit reads pdb, sdf and mol2 (workers/converters/molecule.py); this module
checks the formats it does not read (pqr, cif/mmcif/mcif, gro, mmtf) and
counts the atoms each file declares, so the bound DARKROOM_MAX_POINTS is
checked before rdkit builds anything.
"""

from __future__ import annotations

import re

from darkroom.pipeline.errors import InvalidInput

# Bytes that never occur in a text molecule file (tab, newlines and form feed do).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_ATOM_RECORDS = ("ATOM", "HETATM")
_GRO_MAX_LINE = 1024  # a .gro atom line is ~44-68 characters; guards line-length blowups


def decode_text(data: bytes, fmt: str, warnings: list[str]) -> str:
    """The file as text: refused if empty or binary; read as Latin-1 (with a warning) if not UTF-8.

    Raises
    ------
    InvalidInput: ``empty_file`` or ``invalid_molecule`` (a control byte, with its offset).
    """
    if not data.strip():
        raise InvalidInput("empty_file", f"{fmt} file is empty; accepted: a {fmt} file with at least one atom")
    bad = _CONTROL.search(data)
    if bad:
        raise InvalidInput(
            "invalid_molecule",
            f"{fmt} file is not text: byte {bad.group()!r} at offset {bad.start()}; "
            f"accepted: a text {fmt} file (mmtf is the only binary format)",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        warnings.append(f"{fmt} file is not UTF-8 (byte {e.start}); read as Latin-1 to check it, stored as given")
        return data.decode("latin-1")


def declared_atoms(text: str, fmt: str) -> int | None:
    """How many atoms the file declares, read from its text (None: the format does not say).

    An upper bound of what a parser will build: atom records (pdb, pqr, mmCIF),
    the counts lines (sdf, mol), the ATOM sections (mol2), the header (gro).
    """
    if fmt in ("pdb", "pqr", "cif", "mmcif", "mcif"):
        count = sum(1 for line in text.splitlines() if line.startswith(_ATOM_RECORDS))
        return count if count or fmt in ("pdb", "pqr") else None
    if fmt in ("sdf", "sd", "mol"):
        return _molfile_atoms(text)
    if fmt == "mol2":
        return _mol2_atoms(text)
    if fmt == "gro":
        return _gro_header(text.splitlines())
    return None


def _molfile_atoms(text: str) -> int:
    # V2000: the 4th line of each record starts with the atom count (3 columns);
    # V3000: "M  V30 COUNTS na nb ..." (V3000 is how more than 999 atoms are written).
    total, at = 0, 0
    for line in text.splitlines():
        if line.startswith("$$$$"):
            at = 0
            continue
        if at == 3 and "V3000" not in line:
            total += _int(line[:3])
        elif line.startswith("M  V30 COUNTS"):
            fields = line.split()
            total += _int(fields[3]) if len(fields) > 3 else 0
        at += 1
    return total


def _mol2_atoms(text: str) -> int:
    count, inside = 0, False
    for line in text.splitlines():
        if line.startswith("@<TRIPOS>"):
            inside = line.strip() == "@<TRIPOS>ATOM"
        elif inside and line.strip():
            count += 1
    return count


def _int(text: str) -> int:
    try:
        return max(int(text), 0)
    except ValueError:
        return 0  # the parser then refuses the record


def check_text_format(text: str, fmt: str) -> int | None:
    """Check a pqr, cif/mmcif/mcif or gro file's structure; return its atom count (None if unknown).

    Raises
    ------
    InvalidInput (``invalid_molecule``): what is missing or malformed, with the line number.
    """
    if fmt == "pqr":
        return _check_pqr(text)
    if fmt in ("cif", "mmcif", "mcif"):
        return _check_cif(text, fmt)
    if fmt == "gro":
        return _check_gro(text)
    raise ValueError(f"no text check for {fmt!r}")  # a caller bug, not the user's data


def _check_pqr(text: str) -> int:
    count = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith(_ATOM_RECORDS):
            continue
        fields = line.split()
        # ATOM serial name residue [chain] resSeq x y z charge radius
        if len(fields) < 10 or not all(_is_float(f) for f in fields[-5:]):
            raise InvalidInput(
                "invalid_molecule",
                f"pqr line {number} is not an atom record with x y z charge radius: {line[:80]!r}",
            )
        count += 1
    if not count:
        raise InvalidInput("invalid_molecule", "pqr file has no ATOM or HETATM records; accepted: a PQR file")
    return count


def _check_cif(text: str, fmt: str) -> int | None:
    first = next((line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")), "")
    if not first.startswith("data_"):
        raise InvalidInput(
            "invalid_molecule",
            f"{fmt} file does not start with a data_ block (first line {first[:60]!r}); accepted: a CIF/mmCIF file",
        )
    if "_atom_site" not in text:
        raise InvalidInput("invalid_molecule", f"{fmt} file has no _atom_site items: it holds no atoms")
    return declared_atoms(text, fmt)


def _gro_header(lines: list[str]) -> int:
    if len(lines) < 2 or not lines[1].strip().isdigit():
        second = lines[1][:40] if len(lines) > 1 else ""
        raise InvalidInput(
            "invalid_molecule",
            f"gro file's second line must be the atom count; got {second!r}",
        )
    return int(lines[1].strip())


def _check_gro(text: str) -> int:
    lines = text.splitlines()
    count = _gro_header(lines)
    if count < 1:
        raise InvalidInput("invalid_molecule", "gro file declares 0 atoms; accepted: a gro file with at least one atom")
    if len(lines) < count + 3:
        raise InvalidInput(
            "invalid_molecule",
            f"gro file declares {count} atoms but has {len(lines) - 2} lines after the count; "
            f"it needs {count + 1} (one per atom, then the box)",
        )
    for number in range(2, count + 2):
        line = lines[number]
        # Fixed columns: residue (10), atom name (5), number (5), then x, y, z in %8.3f.
        if len(line) > _GRO_MAX_LINE or not all(_is_float(line[i:i + 8]) for i in (20, 28, 36)):
            raise InvalidInput("invalid_molecule",
                               f"gro line {number + 1} has no x y z in columns 21-44: {line[:80]!r}")
    box = lines[count + 2].split()
    if len(box) not in (3, 9) or not all(_is_float(v) for v in box):
        raise InvalidInput("invalid_molecule",
                           f"gro box line {count + 3} must hold 3 or 9 numbers; got {lines[count + 2][:80]!r}")
    return count


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_mmtf(data: bytes) -> None:
    """MMTF is a MessagePack map (its spec); check that much, without decoding it.

    Raises
    ------
    InvalidInput: ``empty_file``, or ``invalid_molecule`` naming the first byte.
    """
    if not data:
        raise InvalidInput("empty_file", "mmtf file is empty; accepted: an MMTF (MessagePack) file")
    first = data[0]
    if not (0x80 <= first <= 0x8F or first in (0xDE, 0xDF)):
        hint = " (gzip: decompress .mmtf.gz first)" if data[:2] == b"\x1f\x8b" else ""
        raise InvalidInput(
            "invalid_molecule",
            f"mmtf file does not start with a MessagePack map (first byte 0x{first:02x}){hint}; "
            "accepted: an uncompressed MMTF file",
        )
