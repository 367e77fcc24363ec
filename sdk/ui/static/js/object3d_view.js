// Object3D items: point clouds (pts.json: rows of x,y,z[,category | ,r,g,b],
// or a lidar/beta scene with boxes and vectors) and meshes (the GLB the
// worker made), drawn with scene3d.js; rotate, pan and zoom with the mouse.

import { h } from "./dom.js";
import { api } from "./api.js";
import { relatedUrl } from "./media_item.js";
import { categoryColour } from "./palette.js";
import { SceneCanvas, OrbitCamera, bounds, packRGB } from "./scene3d.js";
import { parseGlb } from "./glb.js";
import { parseGeometry } from "./geometry.js";

// Viewers show at most this many points (MEDIA_TYPES.md, Object3D; the
// worker's DISPLAY_POINTS): more are drawn as an even subsample, with a note.
export const DISPLAY_POINTS = 300_000;
const MESH_FORMATS = new Set(["obj", "gltf", "glb", "stl", "babylon"]);

/** The object3d renderer of the kinds table (pipeline/kinds.py). */
export function render(item, context) {
  const view = new Object3DView(item, context);
  return { element: view.element, ready: view.load(), dispose: () => view.dispose?.() };
}

export class Object3DView {
  constructor(item, context) {
    this.item = item;
    this.context = context;
    this.note = h("div", { class: "scene-note" });
    this.element = h("div", { class: "scene-view" });
  }

  async load() {
    const scene = await this.#loadScene();
    const b = bounds(scene.positions.length ? scene.positions : scene.meshPositions || new Float32Array(3));
    const camera = new OrbitCamera(b, scene.up);
    const view = new SceneCanvas(camera, (raster, projector, ctx, ratio) => drawScene(scene, raster, projector, ctx, ratio));
    view.canvas.dataset.points = String(scene.positions.length / 3);
    this.element.append(view.canvas, this.note);
    if (scene.notes.length) this.note.textContent = scene.notes.join(" · ");
    view.draw();
    view.canvas.dataset.ready = "1";
  }

  async #loadScene() {
    const item = this.item;
    const format = item.artifact?.format || "";
    // The worker's binary arrays first (docs/viewer.md): a cloud's "geometry",
    // or "display" (a subsample) when it is over DISPLAY_POINTS; a mesh's "geometry".
    for (const role of ["display", "geometry"]) {
      const url = relatedUrl(item, role);
      if (!url) continue;
      try {
        return fromGeometry(parseGeometry(await api.fileBytes(url)), item);
      } catch { /* a file this page cannot read: fall back to the item's own files */ }
    }
    if (MESH_FORMATS.has(format)) {
      const glb = format === "glb" ? item.url : relatedUrl(item, "glb");
      if (!glb) throw new Error(`no GLB for this ${format} file (the worker stores meshes as GLB)`);
      const mesh = parseGlb(await api.fileBytes(glb));
      return meshScene(mesh.positions, mesh.indices, mesh.colours ? (t) => mesh.colours[t] : null);
    }
    return fromPts(await api.fileJSON(item.url), item);
  }
}

function meshScene(positions, indices, triangleColour) {
  return { up: "y", positions: new Float32Array(0), colours: new Uint32Array(0), meshPositions: positions,
    meshIndices: indices, meshColour: triangleColour, boxes: [], vectors: [], notes: [] };
}

/** A geometry file (kind mesh or points) as a scene. */
function fromGeometry({ kind, header, arrays }, item) {
  if (kind === "mesh") {
    const rgba = arrays.colors;
    // Vertex colours, flat per triangle: the colour of its first vertex.
    const colour = rgba ? (t) => {
      const v = arrays.indices[3 * t];
      return [rgba[4 * v], rgba[4 * v + 1], rgba[4 * v + 2]];
    } : null;
    return meshScene(arrays.positions, arrays.indices, colour);
  }
  if (kind !== "points") throw new Error(`geometry of kind ${kind} is not a 3-D object`);
  const positions = arrays.positions;
  const n = positions.length / 3;
  const colours = new Uint32Array(n);
  if (arrays.colors) {
    const c = arrays.colors;
    for (let i = 0; i < n; i++) colours[i] = packRGB(c[3 * i], c[3 * i + 1], c[3 * i + 2]);
  } else if (arrays.categories) {
    for (let i = 0; i < n; i++) colours[i] = packRGB(...categoryColour(arrays.categories[i]));
  } else {
    heightColours(positions, colours);
  }
  const total = header.total_points ?? item.artifact?.points ?? n;
  const notes = total > n ? [`showing ${n.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} points ` +
    "(a uniform random subsample)"] : [];
  return { up: "z", positions, colours, boxes: header.boxes || [], vectors: header.vectors || [], notes };
}

/** A pts.json value (a list of rows or a lidar/beta scene) as arrays ready to draw. */
export function fromPts(content, item) {
  const rows = Array.isArray(content) ? content : content.points || [];
  const total = rows.length;
  // Over the display cap: an even stride (the worker's "display" file, a
  // random subsample, is preferred when it exists).
  const stride = Math.max(1, Math.ceil(rows.length / DISPLAY_POINTS));
  const n = Math.ceil(rows.length / stride);
  const positions = new Float32Array(3 * n), colours = new Uint32Array(n);
  const plain = [];
  for (let j = 0, i = 0; i < rows.length; i += stride, j++) {
    const row = rows[i];
    positions[3 * j] = row[0];
    positions[3 * j + 1] = row[1];
    positions[3 * j + 2] = row[2];
    if (row.length >= 6) colours[j] = packRGB(row[3], row[4], row[5]);
    else if (row.length === 4) colours[j] = packRGB(...categoryColour(row[3]));
    else plain.push(j);
  }
  if (plain.length === n) heightColours(positions, colours);
  const notes = stride > 1 ? [`showing ${n.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} points (every ${stride}th)`] : [];
  return { up: "z", positions, colours, boxes: content.boxes || [], vectors: content.vectors || [], notes };
}

/** Colour points without colours of their own by height (z). */
function heightColours(positions, colours) {
  let lo = Infinity, hi = -Infinity;
  for (let i = 2; i < positions.length; i += 3) {
    if (positions[i] < lo) lo = positions[i];
    if (positions[i] > hi) hi = positions[i];
  }
  for (let j = 0; j < colours.length; j++) colours[j] = heightColour((positions[3 * j + 2] - lo) / (hi - lo || 1));
}

// Low to high: deep blue, teal, yellow (a height ramp for clouds without colours).
function heightColour(t) {
  const x = Math.min(1, Math.max(0, t));
  const stops = [[48, 64, 160], [40, 170, 160], [250, 220, 70]];
  const s = x < 0.5 ? 0 : 1, f = x < 0.5 ? x * 2 : (x - 0.5) * 2;
  const a = stops[s], b = stops[s + 1];
  return packRGB(a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f);
}

function drawScene(scene, raster, projector, ctx, ratio) {
  if (scene.meshPositions) {
    raster.triangles(scene.meshPositions, scene.meshIndices, scene.meshColour || [180, 190, 205], projector);
  }
  const n = scene.positions.length / 3;
  const size = Math.max(1, Math.round((n > 100_000 ? 1 : 2) * ratio));
  raster.points(scene.positions, scene.colours, projector, size);
  raster.flush();
  ctx.lineWidth = Math.max(1, ratio * 1.5);
  ctx.font = `${Math.round(11 * ratio)}px system-ui, sans-serif`;
  for (const box of scene.boxes) drawBox(ctx, box, projector, ratio);
  for (const vector of scene.vectors) drawVector(ctx, vector, projector, ratio);
}

function css([r, g, b]) {
  return `rgb(${r | 0}, ${g | 0}, ${b | 0})`;
}

// A box's 8 corners may come in any order: each corner joins its 3 nearest
// corners, which are its edges for any rectangular box.
function boxEdges(corners) {
  const edges = new Set();
  corners.forEach((a, i) => {
    const nearest = corners.map((b, j) => [j, (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2])
      .filter(([j]) => j !== i).sort((x, y) => x[1] - y[1]).slice(0, 3);
    for (const [j] of nearest) edges.add(i < j ? `${i},${j}` : `${j},${i}`);
  });
  return [...edges].map((e) => e.split(",").map(Number));
}

function drawBox(ctx, box, projector, ratio) {
  const corners = box.corners || [];
  if (corners.length !== 8) return;
  const screen = corners.map((c) => {
    const out = [0, 0, 0];
    return projector.project(c[0], c[1], c[2], out) ? out : null;
  });
  const colour = css(box.color || [255, 255, 255]);
  ctx.strokeStyle = colour;
  ctx.beginPath();
  for (const [i, j] of boxEdges(corners)) {
    if (!screen[i] || !screen[j]) continue;
    ctx.moveTo(screen[i][0], screen[i][1]);
    ctx.lineTo(screen[j][0], screen[j][1]);
  }
  ctx.stroke();
  const label = [box.label, box.score !== undefined ? Number(box.score).toFixed(2) : null].filter((x) => x != null).join(" ");
  const top = screen.filter(Boolean).sort((a, b) => a[1] - b[1])[0];
  if (label && top) {
    ctx.fillStyle = colour;
    ctx.fillText(label, top[0] + 3 * ratio, top[1] - 4 * ratio);
  }
}

function drawVector(ctx, vector, projector, ratio) {
  const a = [0, 0, 0], b = [0, 0, 0];
  if (!projector.project(...vector.start, a) || !projector.project(...vector.end, b)) return;
  const colour = css(vector.color || [255, 255, 255]);
  ctx.strokeStyle = colour;
  ctx.fillStyle = colour;
  ctx.beginPath();
  ctx.moveTo(a[0], a[1]);
  ctx.lineTo(b[0], b[1]);
  ctx.stroke();
  const angle = Math.atan2(b[1] - a[1], b[0] - a[0]);
  const head = 8 * ratio;
  ctx.beginPath();
  ctx.moveTo(b[0], b[1]);
  ctx.lineTo(b[0] - head * Math.cos(angle - 0.4), b[1] - head * Math.sin(angle - 0.4));
  ctx.lineTo(b[0] - head * Math.cos(angle + 0.4), b[1] - head * Math.sin(angle + 0.4));
  ctx.closePath();
  ctx.fill();
}
