// Molecule items: an interactive ball-and-stick 3-D view (rotate, pan, zoom)
// beside the 2-D depiction the worker drew (related role "depiction").
// Atoms are shaded sphere sprites and bonds two-coloured sticks, drawn far to
// near; very large structures are drawn as points instead.

import { h } from "./dom.js";
import { api } from "./api.js";
import { relatedUrl } from "./media_item.js";
import { SceneCanvas, OrbitCamera, bounds, packRGB } from "./scene3d.js";
import { parseMolecule } from "./molecule_parsers.js";
import { parseGeometry, moleculeOf } from "./geometry.js";

const ELEMENT_COLOURS = {
  H: "#f2f2f2", C: "#8f8f8f", N: "#3355ee", O: "#ee2222", S: "#e6d22e", P: "#ff8c1a", F: "#6fdc4a",
  Cl: "#2fcf2f", Br: "#a33a2a", I: "#8a1a9a", Fe: "#d9692e", B: "#f0b4a0", Si: "#d8b080", Se: "#f0a020",
};
const OTHER_COLOUR = "#e040a0";
// Ball radii: a quarter of common van der Waals radii (Å).
const BALL = { H: 0.28, C: 0.42, N: 0.39, O: 0.38, S: 0.45, P: 0.45, F: 0.37, Cl: 0.44, Br: 0.46, I: 0.5 };
const SPRITE_ATOMS = 20_000;  // above this, atoms are drawn as points

/** The molecule renderer of the kinds table (pipeline/kinds.py). */
export function render(item, context) {
  const view = new MoleculeView(item, context);
  return { element: view.element, ready: view.load(), dispose: () => view.dispose?.() };
}

export class MoleculeView {
  constructor(item, context) {
    this.item = item;
    this.context = context;
    this.element = h("div", { class: "molecule-view" });
  }

  async load() {
    const depiction = relatedUrl(this.item, "depiction");
    if (depiction) {
      this.element.append(h("img", { class: "depiction", src: depiction, alt: "2-D depiction" }));
    }
    let molecule;
    try {
      molecule = await this.#molecule();
    } catch (error) {
      this.element.prepend(h("div", { class: "scene-note" }, `no 3-D view: ${error.message}`));
      return;
    }
    const positions = new Float32Array(molecule.atoms.flatMap((a) => [a.x, a.y, a.z]));
    const camera = new OrbitCamera(bounds(positions), "y");
    const sprites = new SpriteCache();
    const view = new SceneCanvas(camera, (raster, projector, ctx, ratio) =>
      drawMolecule(molecule, positions, raster, projector, ctx, ratio, sprites), { width: 420, height: 340 });
    view.canvas.dataset.atoms = String(molecule.atoms.length);
    this.element.prepend(view.canvas);
    view.draw();
    view.canvas.dataset.ready = "1";
  }

  async #molecule() {
    const geometry = relatedUrl(this.item, "geometry");
    if (geometry) {
      try {
        return moleculeOf(parseGeometry(await api.fileBytes(geometry)));
      } catch { /* an unreadable geometry file: read the molecule file itself */ }
    }
    const format = this.item.artifact?.format;
    const text = new TextDecoder().decode(await api.fileBytes(this.item.url));
    return parseMolecule(text, format);
  }
}

const colourOf = (element) => ELEMENT_COLOURS[element] || OTHER_COLOUR;

class SpriteCache {
  constructor() {
    this.sprites = new Map();
  }

  get(colour) {
    let sprite = this.sprites.get(colour);
    if (sprite) return sprite;
    const size = 64;
    sprite = document.createElement("canvas");
    sprite.width = sprite.height = size;
    const ctx = sprite.getContext("2d");
    const gradient = ctx.createRadialGradient(size * 0.38, size * 0.35, size * 0.05, size / 2, size / 2, size / 2);
    gradient.addColorStop(0, "#ffffff");
    gradient.addColorStop(0.25, colour);
    gradient.addColorStop(1, shade(colour, 0.35));
    ctx.fillStyle = gradient;
    ctx.beginPath();
    ctx.arc(size / 2, size / 2, size / 2 - 0.5, 0, 2 * Math.PI);
    ctx.fill();
    this.sprites.set(colour, sprite);
    return sprite;
  }
}

function shade(hex, factor) {
  const v = parseInt(hex.slice(1), 16);
  const c = [(v >> 16) & 255, (v >> 8) & 255, v & 255].map((x) => Math.round(x * factor));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

function drawMolecule(molecule, positions, raster, projector, ctx, ratio, sprites) {
  const { atoms, bonds } = molecule;
  if (atoms.length > SPRITE_ATOMS) {
    const colours = Uint32Array.from(atoms, (a) => {
      const v = parseInt(colourOf(a.element).slice(1), 16);
      return packRGB((v >> 16) & 255, (v >> 8) & 255, v & 255);
    });
    raster.points(positions, colours, projector, Math.max(1, Math.round(2 * ratio)));
    raster.flush();
    return;
  }
  raster.flush();  // the background
  const screen = atoms.map((a) => {
    const out = [0, 0, 0];
    return projector.project(a.x, a.y, a.z, out) ? out : null;
  });
  const drawables = [];
  atoms.forEach((a, i) => { if (screen[i]) drawables.push({ depth: screen[i][2], atom: i }); });
  bonds.forEach(([a, b, order]) => {
    if (screen[a] && screen[b]) drawables.push({ depth: (screen[a][2] + screen[b][2]) / 2 + 1e-9, bond: [a, b, order] });
  });
  drawables.sort((p, q) => p.depth - q.depth);  // inverse depth: far (small) first
  const f = projector.f;
  ctx.lineCap = "round";
  for (const d of drawables) {
    if (d.bond) {
      const [a, b, order] = d.bond;
      const [ax, ay, az] = screen[a], [bx, by, bz] = screen[b];
      const mx = (ax + bx) / 2, my = (ay + by) / 2;
      const width = Math.max(1, 0.18 * f * (az + bz) / 2) * (order >= 2 ? 0.7 : 1);
      ctx.lineWidth = width;
      ctx.strokeStyle = colourOf(atoms[a].element);
      ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(mx, my); ctx.stroke();
      ctx.strokeStyle = colourOf(atoms[b].element);
      ctx.beginPath(); ctx.moveTo(mx, my); ctx.lineTo(bx, by); ctx.stroke();
    } else {
      const atom = atoms[d.atom];
      const [x, y, inv] = screen[d.atom];
      const r = Math.max(1.5 * ratio, (BALL[atom.element] ?? 0.45) * f * inv);
      ctx.drawImage(sprites.get(colourOf(atom.element)), x - r, y - r, 2 * r, 2 * r);
    }
  }
}
