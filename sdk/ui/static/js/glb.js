// Reading the triangles out of a GLB (binary glTF 2.0): the JSON chunk, the
// BIN chunk, each mesh primitive's POSITION and indices accessors, placed by
// the node hierarchy.  Only what a viewer of shapes needs: no textures,
// skins or animation.  Layout from the glTF 2.0 specification (sections 4.4
// "GLB File Format", 5.1 accessors, 5.11 buffer views, 3.5 node transforms).

const MAGIC = 0x46546c67;       // "glTF"
const CHUNK_JSON = 0x4e4f534a;  // "JSON"
const CHUNK_BIN = 0x004e4942;   // "BIN\0"
const COMPONENTS = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4, MAT4: 16 };
const ARRAYS = { 5120: Int8Array, 5121: Uint8Array, 5122: Int16Array, 5123: Uint16Array, 5125: Uint32Array, 5126: Float32Array };
const TRIANGLES = 4;

/**
 * Parse a GLB file.
 * Returns {positions: Float32Array (xyz), indices: Uint32Array, colours: [[r,g,b] per triangle] | null}.
 * Throws an Error saying what is wrong with the file.
 */
export function parseGlb(buffer) {
  const view = new DataView(buffer);
  if (buffer.byteLength < 20 || view.getUint32(0, true) !== MAGIC) throw new Error("not a GLB file (no glTF header)");
  let offset = 12, json = null, bin = null;
  while (offset + 8 <= buffer.byteLength) {
    const length = view.getUint32(offset, true), type = view.getUint32(offset + 4, true);
    const start = offset + 8;
    if (type === CHUNK_JSON) json = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, start, length)));
    else if (type === CHUNK_BIN) bin = { buffer, offset: start, length };
    offset = start + length + ((4 - (length % 4)) % 4);
  }
  if (!json) throw new Error("GLB file has no JSON chunk");
  const gltf = json;

  const accessor = (index) => {
    const a = gltf.accessors[index];
    const Type = ARRAYS[a.componentType];
    const components = COMPONENTS[a.type];
    if (!Type || !components) throw new Error(`accessor ${index}: unsupported type ${a.type}/${a.componentType}`);
    const out = new (Type === Float32Array ? Float32Array : Uint32Array)(a.count * components);
    if (a.bufferView === undefined) return out;  // all zeros (sparse accessors are not read)
    const bv = gltf.bufferViews[a.bufferView];
    if ((bv.buffer ?? 0) !== 0 || !bin) throw new Error("GLB refers to a buffer outside its BIN chunk");
    const size = Type.BYTES_PER_ELEMENT;
    const stride = bv.byteStride || size * components;
    const base = bin.offset + (bv.byteOffset || 0) + (a.byteOffset || 0);
    const data = new DataView(bin.buffer);
    const read = {
      5120: (p) => data.getInt8(p), 5121: (p) => data.getUint8(p), 5122: (p) => data.getInt16(p, true),
      5123: (p) => data.getUint16(p, true), 5125: (p) => data.getUint32(p, true), 5126: (p) => data.getFloat32(p, true),
    }[a.componentType];
    if (base + stride * (a.count - 1) + size * components > bin.offset + bin.length) {
      throw new Error(`accessor ${index} reaches past the end of the BIN chunk`);
    }
    for (let i = 0; i < a.count; i++) {
      for (let k = 0; k < components; k++) out[i * components + k] = read(base + i * stride + k * size);
    }
    return out;
  };

  const positions = [], indices = [], colours = [];
  let vertexCount = 0;
  const addMesh = (meshIndex, matrix) => {
    for (const primitive of gltf.meshes[meshIndex].primitives || []) {
      if ((primitive.mode ?? TRIANGLES) !== TRIANGLES || primitive.attributes?.POSITION === undefined) continue;
      const xyz = accessor(primitive.attributes.POSITION);
      const n = xyz.length / 3;
      for (let i = 0; i < n; i++) {
        const [x, y, z] = [xyz[3 * i], xyz[3 * i + 1], xyz[3 * i + 2]];
        positions.push(
          matrix[0] * x + matrix[4] * y + matrix[8] * z + matrix[12],
          matrix[1] * x + matrix[5] * y + matrix[9] * z + matrix[13],
          matrix[2] * x + matrix[6] * y + matrix[10] * z + matrix[14]);
      }
      const idx = primitive.indices !== undefined ? accessor(primitive.indices) : Uint32Array.from({ length: n }, (_, i) => i);
      const factor = gltf.materials?.[primitive.material]?.pbrMetallicRoughness?.baseColorFactor;
      const colour = factor ? factor.slice(0, 3).map((c) => Math.round(255 * Math.pow(c, 1 / 2.2))) : null;
      for (let i = 0; i + 2 < idx.length; i += 3) {
        indices.push(idx[i] + vertexCount, idx[i + 1] + vertexCount, idx[i + 2] + vertexCount);
        colours.push(colour);
      }
      vertexCount += n;
    }
  };
  const visit = (nodeIndex, parent, depth) => {
    if (depth > 64) throw new Error("GLB node hierarchy is deeper than 64 levels");
    const node = gltf.nodes[nodeIndex];
    const matrix = multiply(parent, localMatrix(node));
    if (node.mesh !== undefined) addMesh(node.mesh, matrix);
    for (const child of node.children || []) visit(child, matrix, depth + 1);
  };
  const identity = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  const scene = gltf.scenes?.[gltf.scene ?? 0];
  if (scene && gltf.nodes) {
    for (const root of scene.nodes || []) visit(root, identity, 0);
  } else {
    (gltf.meshes || []).forEach((_, i) => addMesh(i, identity));
  }
  const anyColour = colours.some((c) => c);
  return {
    positions: Float32Array.from(positions),
    indices: Uint32Array.from(indices),
    colours: anyColour ? colours.map((c) => c || [180, 190, 205]) : null,
  };
}

// Column-major 4x4 matrices, as glTF stores them.
function localMatrix(node) {
  if (node.matrix) return node.matrix;
  const [tx, ty, tz] = node.translation || [0, 0, 0];
  const [qx, qy, qz, qw] = node.rotation || [0, 0, 0, 1];
  const [sx, sy, sz] = node.scale || [1, 1, 1];
  return [
    (1 - 2 * (qy * qy + qz * qz)) * sx, 2 * (qx * qy + qz * qw) * sx, 2 * (qx * qz - qy * qw) * sx, 0,
    2 * (qx * qy - qz * qw) * sy, (1 - 2 * (qx * qx + qz * qz)) * sy, 2 * (qy * qz + qx * qw) * sy, 0,
    2 * (qx * qz + qy * qw) * sz, 2 * (qy * qz - qx * qw) * sz, (1 - 2 * (qx * qx + qy * qy)) * sz, 0,
    tx, ty, tz, 1,
  ];
}

function multiply(a, b) {
  const out = new Array(16);
  for (let col = 0; col < 4; col++) {
    for (let row = 0; row < 4; row++) {
      let sum = 0;
      for (let k = 0; k < 4; k++) sum += a[k * 4 + row] * b[col * 4 + k];
      out[col * 4 + row] = sum;
    }
  }
  return out;
}
