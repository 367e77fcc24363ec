// Atoms and bonds out of the molecule files darkroom stores as given
// (MEDIA_TYPES.md, Molecule): pdb, pqr, sdf/sd/mol (V2000 and V3000), mol2,
// gro and mmCIF.  Each parser returns {atoms: [{element, x, y, z}], bonds:
// [[i, j, order]]}; files without bonds get bonds from distances.

const TWO_LETTER = new Set(["CL", "BR", "FE", "ZN", "MG", "NA", "CA", "MN", "CU", "CO", "NI", "SE", "SI", "LI", "AL", "HG", "CD", "PT", "AU", "AG", "PB", "SN", "AS", "SR", "BA", "CS", "RB", "XE", "KR", "AR", "NE", "HE", "BE", "TI", "CR", "GA", "GE", "MO", "PD", "SB", "TE", "W", "IR", "OS"]);

// Covalent radii in Å (rounded; for inferring bonds only).
const COVALENT = { H: 0.31, C: 0.76, N: 0.71, O: 0.66, F: 0.57, P: 1.07, S: 1.05, Cl: 1.02, Br: 1.2, I: 1.39, B: 0.84, Si: 1.11, Se: 1.2 };
const DEFAULT_COVALENT = 1.3;

function elementFrom(text) {
  const letters = String(text || "").replace(/[^A-Za-z]/g, "");
  if (!letters) return "X";
  const two = letters.slice(0, 2).toUpperCase();
  if (letters.length >= 2 && TWO_LETTER.has(two) && letters[1] === letters[1].toLowerCase()) {
    return two[0] + two[1].toLowerCase();
  }
  return letters[0].toUpperCase();
}

function normaliseElement(symbol) {
  const s = String(symbol || "").trim();
  if (!s) return "X";
  return s[0].toUpperCase() + s.slice(1, 2).toLowerCase().replace(/[^a-z]/g, "");
}

function pdb(text, whitespace = false) {
  const atoms = [], bonds = [], serials = new Map();
  for (const line of text.split(/\r?\n/)) {
    const record = line.slice(0, 6).trim();
    if (record === "ATOM" || record === "HETATM") {
      let x, y, z, element;
      if (whitespace) {  // PQR: ... x y z charge radius, whitespace-separated
        const f = line.trim().split(/\s+/);
        [x, y, z] = f.slice(-5, -2).map(Number);
        element = elementFrom(f[2]);
      } else {
        x = Number(line.slice(30, 38));
        y = Number(line.slice(38, 46));
        z = Number(line.slice(46, 54));
        const symbol = line.slice(76, 78).trim();
        // Columns 13-14 hold the element right-justified when the name does not say it.
        element = symbol ? normaliseElement(symbol) : elementFrom(line.slice(12, 16).trim());
      }
      if (![x, y, z].every(Number.isFinite)) continue;
      serials.set(Number(line.slice(6, 11)), atoms.length);
      atoms.push({ element, x, y, z });
    } else if (record === "CONECT") {
      const numbers = [];
      for (let c = 6; c + 5 <= line.length; c += 5) {
        const n = Number(line.slice(c, c + 5));
        if (Number.isFinite(n) && line.slice(c, c + 5).trim()) numbers.push(n);
      }
      const [from, ...to] = numbers.length ? numbers : line.slice(6).trim().split(/\s+/).map(Number);
      for (const target of to) {
        const i = serials.get(from), j = serials.get(target);
        if (i !== undefined && j !== undefined && i < j) bonds.push([i, j, 1]);
      }
    } else if (record === "ENDMDL") {
      break;  // first model only
    }
  }
  return { atoms, bonds: dedupe(bonds) };
}

function molfile(text) {
  const lines = text.split(/\r?\n/);
  if (lines.some((l) => l.includes("V3000"))) return molV3000(lines);
  const counts = lines[3] || "";
  const nAtoms = Number(counts.slice(0, 3)), nBonds = Number(counts.slice(3, 6));
  const atoms = [], bonds = [];
  for (let i = 0; i < nAtoms; i++) {
    const l = lines[4 + i] || "";
    atoms.push({ x: Number(l.slice(0, 10)), y: Number(l.slice(10, 20)), z: Number(l.slice(20, 30)),
      element: normaliseElement(l.slice(31, 34)) });
  }
  for (let i = 0; i < nBonds; i++) {
    const l = lines[4 + nAtoms + i] || "";
    bonds.push([Number(l.slice(0, 3)) - 1, Number(l.slice(3, 6)) - 1, Number(l.slice(6, 9)) || 1]);
  }
  return { atoms, bonds: bonds.filter(([a, b]) => atoms[a] && atoms[b]) };
}

function molV3000(lines) {
  const atoms = [], bonds = [], index = new Map();
  let block = null;
  for (const line of lines) {
    if (!line.startsWith("M  V30")) continue;
    const f = line.slice(6).trim().split(/\s+/);
    if (f[0] === "BEGIN") block = f[1];
    else if (f[0] === "END") block = null;
    else if (block === "ATOM") {
      index.set(f[0], atoms.length);
      atoms.push({ element: normaliseElement(f[1]), x: Number(f[2]), y: Number(f[3]), z: Number(f[4]) });
    } else if (block === "BOND") {
      const a = index.get(f[2]), b = index.get(f[3]);
      if (a !== undefined && b !== undefined) bonds.push([a, b, Number(f[1]) || 1]);
    }
  }
  return { atoms, bonds };
}

function mol2(text) {
  const atoms = [], bonds = [], index = new Map();
  let section = null;
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith("@<TRIPOS>")) {
      section = line.slice(9).trim();
      continue;
    }
    const f = line.trim().split(/\s+/);
    if (section === "ATOM" && f.length >= 6) {
      index.set(f[0], atoms.length);
      atoms.push({ element: normaliseElement(f[5].split(".")[0]), x: Number(f[2]), y: Number(f[3]), z: Number(f[4]) });
    } else if (section === "BOND" && f.length >= 4) {
      const a = index.get(f[1]), b = index.get(f[2]);
      if (a !== undefined && b !== undefined) bonds.push([a, b, f[3] === "ar" ? 1.5 : Number(f[3]) || 1]);
    }
  }
  return { atoms, bonds };
}

function gro(text) {
  const lines = text.split(/\r?\n/);
  const n = Number(lines[1]);
  const atoms = [];
  for (let i = 0; i < n; i++) {
    const l = lines[2 + i] || "";
    // Fixed columns; positions in nm (x10 for Å).
    atoms.push({ element: elementFrom(l.slice(10, 15).trim()), x: 10 * Number(l.slice(20, 28)),
      y: 10 * Number(l.slice(28, 36)), z: 10 * Number(l.slice(36, 44)) });
  }
  return { atoms: atoms.filter((a) => [a.x, a.y, a.z].every(Number.isFinite)), bonds: [] };
}

function cifTokens(line) {
  const tokens = [];
  const re = /'([^']*)'|"([^"]*)"|(\S+)/g;
  let m;
  while ((m = re.exec(line))) tokens.push(m[1] ?? m[2] ?? m[3]);
  return tokens;
}

function mmcif(text) {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "loop_" || !lines[i + 1]?.trim().startsWith("_atom_site.")) continue;
    const columns = [];
    let j = i + 1;
    while (lines[j]?.trim().startsWith("_atom_site.")) columns.push(lines[j++].trim().slice(11).split(/\s/)[0]);
    const col = (name) => columns.indexOf(name);
    const [cx, cy, cz, ce, cm] = [col("Cartn_x"), col("Cartn_y"), col("Cartn_z"), col("type_symbol"), col("pdbx_PDB_model_num")];
    if (cx < 0) break;
    const atoms = [];
    let firstModel = null;
    const pending = [];
    for (; j < lines.length; j++) {
      const line = lines[j].trim();
      if (!line || line === "#" || line.startsWith("loop_") || line.startsWith("_")) break;
      pending.push(...cifTokens(line));
      while (pending.length >= columns.length) {
        const row = pending.splice(0, columns.length);
        if (cm >= 0) {
          firstModel ??= row[cm];
          if (row[cm] !== firstModel) continue;
        }
        atoms.push({ element: normaliseElement(ce >= 0 ? row[ce] : "X"), x: Number(row[cx]), y: Number(row[cy]), z: Number(row[cz]) });
      }
    }
    return { atoms, bonds: [] };
  }
  throw new Error("no _atom_site loop with Cartesian coordinates (Cartn_x) in this CIF file");
}

const PARSERS = {
  pdb: (t) => pdb(t), pqr: (t) => pdb(t, true), sdf: molfile, sd: molfile, mol: molfile, mol2,
  gro, cif: mmcif, mmcif, mcif: mmcif,
};

/**
 * Parse a molecule file of `format`; atoms without any bond in the file get
 * bonds from distances (covalent radii + 0.45 Å), as proteins' PDB files list
 * CONECT records only for hetero groups.
 * Throws an Error naming the format when it cannot be read here.
 */
export function parseMolecule(text, format) {
  const parse = PARSERS[format];
  if (!parse) throw new Error(`the 3-D view reads ${Object.keys(PARSERS).join(", ")}; this file is ${format}`);
  const molecule = parse(text);
  if (molecule.atoms.length === 0) throw new Error(`no atoms found in this ${format} file`);
  molecule.bonds = [...molecule.bonds, ...inferBonds(molecule.atoms, molecule.bonds)];
  return molecule;
}

function dedupe(bonds) {
  const seen = new Set();
  return bonds.filter(([a, b]) => {
    const key = `${a},${b}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Bonds by distance for atoms that have none in the file (a grid keeps it near-linear). */
export function inferBonds(atoms, known) {
  const bonded = new Uint8Array(atoms.length);
  for (const [a, b] of known) bonded[a] = bonded[b] = 1;
  if (bonded.every(Boolean)) return [];
  const cell = 2 * 1.4 + 0.45;
  const grid = new Map();
  const keyOf = (x, y, z) => `${Math.floor(x / cell)},${Math.floor(y / cell)},${Math.floor(z / cell)}`;
  atoms.forEach((a, i) => {
    const key = keyOf(a.x, a.y, a.z);
    if (!grid.has(key)) grid.set(key, []);
    grid.get(key).push(i);
  });
  const out = [];
  atoms.forEach((a, i) => {
    if (bonded[i]) return;
    const [gx, gy, gz] = [a.x, a.y, a.z].map((v) => Math.floor(v / cell));
    const ra = COVALENT[a.element] ?? DEFAULT_COVALENT;
    for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++) for (let dz = -1; dz <= 1; dz++) {
      for (const j of grid.get(`${gx + dx},${gy + dy},${gz + dz}`) || []) {
        // An unbonded pair is seen from both atoms: keep it once (from the lower index).
        if (j === i || (!bonded[j] && j < i)) continue;
        const b = atoms[j];
        const d = Math.hypot(a.x - b.x, a.y - b.y, a.z - b.z);
        const limit = ra + (COVALENT[b.element] ?? DEFAULT_COVALENT) + 0.45;
        if (d > 0.4 && d < limit && !(a.element === "H" && b.element === "H")) out.push([i, j, 1]);
      }
    }
  });
  return out;
}
