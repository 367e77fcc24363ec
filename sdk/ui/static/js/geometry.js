// The worker's "geometry" (and a big cloud's "display") related file: a mesh's,
// molecule's or cloud's arrays as compact binary, viewed in place with typed
// arrays; no text to parse.  Layout (docs/viewer.md, "The geometry file";
// workers/converters/geometry.py), little-endian: "DRG1", a uint32 header
// length n, n bytes of JSON header, then each array at its header's offset.

const MAGIC = "DRG1";
const FORMAT = "darkroom.geometry/1";
const TYPES = { float32: Float32Array, uint32: Uint32Array, uint8: Uint8Array };

// Atomic number -> symbol, for the elements a molecule's geometry stores as numbers.
const SYMBOLS = ("X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As " +
  "Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er " +
  "Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn").split(" ");

/**
 * Parse a geometry file.  Returns {header, kind, arrays: {name: TypedArray}}.
 * Throws an Error saying what is wrong when it is not one this page reads.
 */
export function parseGeometry(buffer) {
  if (buffer.byteLength < 8) throw new Error("geometry file too short");
  const magic = new TextDecoder().decode(new Uint8Array(buffer, 0, 4));
  if (magic !== MAGIC) throw new Error(`geometry file starts ${JSON.stringify(magic)}, not ${MAGIC}`);
  const length = new DataView(buffer).getUint32(4, true);
  if (8 + length > buffer.byteLength) throw new Error("geometry header runs past the file");
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, length)));
  if (header.format !== FORMAT) throw new Error(`geometry format ${header.format}; this page reads ${FORMAT}`);
  const arrays = {};
  for (const [name, spec] of Object.entries(header.arrays || {})) {
    const Type = TYPES[spec.dtype];
    if (!Type) throw new Error(`geometry array ${name} has dtype ${spec.dtype}`);
    const count = (spec.shape || []).reduce((a, b) => a * b, 1);
    if (spec.offset % Type.BYTES_PER_ELEMENT || spec.offset + count * Type.BYTES_PER_ELEMENT > buffer.byteLength) {
      throw new Error(`geometry array ${name} lies outside the file`);
    }
    arrays[name] = new Type(buffer, spec.offset, count);
  }
  return { header, kind: header.kind, arrays };
}

/** A molecule geometry's atoms and bonds, as molecule_parsers.js gives them. */
export function moleculeOf({ arrays }) {
  const { positions, elements, bonds, bond_orders: orders } = arrays;
  if (!positions) throw new Error("molecule geometry has no positions");
  const atoms = [];
  for (let i = 0; i < positions.length / 3; i++) {
    atoms.push({ element: SYMBOLS[elements?.[i] ?? 0] || "X", x: positions[3 * i], y: positions[3 * i + 1], z: positions[3 * i + 2] });
  }
  const pairs = [];
  for (let b = 0; bonds && b < bonds.length / 2; b++) {
    const order = orders?.[b] ?? 1;
    pairs.push([bonds[2 * b], bonds[2 * b + 1], order === 4 ? 1.5 : order || 1]);
  }
  return { atoms, bonds: pairs };
}
