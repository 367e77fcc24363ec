// A small 3-D renderer on a 2-D canvas: an orbiting perspective camera, and a
// software rasteriser with a depth buffer for points and flat-shaded
// triangles, written straight into an ImageData.  Lines and labels are drawn
// on top with the canvas API.  Canvas 2D rather than WebGL: headless and
// GPU-less browsers (CI, remote desktops) always have it, and 300,000 points
// or a few hundred thousand triangles rasterise in tens of milliseconds.

export const BACKGROUND = [17, 24, 39];  // #111827

/** Bounds of a flat xyz array: {min, max, center, radius}. */
export function bounds(positions) {
  const min = [Infinity, Infinity, Infinity], max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < positions.length; i += 3) {
    for (let k = 0; k < 3; k++) {
      const v = positions[i + k];
      if (v < min[k]) min[k] = v;
      if (v > max[k]) max[k] = v;
    }
  }
  if (!(min[0] <= max[0])) return { min: [0, 0, 0], max: [0, 0, 0], center: [0, 0, 0], radius: 1 };
  const center = [0, 1, 2].map((k) => (min[k] + max[k]) / 2);
  const radius = Math.max(1e-9, Math.hypot(max[0] - min[0], max[1] - min[1], max[2] - min[2]) / 2);
  return { min, max, center, radius };
}

/**
 * Orbit camera around `target`.  `up` is the world axis drawn upwards: "z"
 * for lidar-style clouds, "y" for glTF meshes and molecules.
 */
export class OrbitCamera {
  constructor({ center, radius }, up = "y") {
    this.up = up;
    this.home = { target: [...center], distance: radius * 2.6, yaw: -0.6, pitch: 0.45 };
    this.fov = 0.8;  // radians, vertical
    this.reset();
  }

  reset() {
    this.target = [...this.home.target];
    this.distance = this.home.distance;
    this.yaw = this.home.yaw;
    this.pitch = this.home.pitch;
  }

  /** World -> camera rotation as a 3x3 row-major matrix. */
  rotation() {
    const cy = Math.cos(this.yaw), sy = Math.sin(this.yaw);
    const cp = Math.cos(this.pitch), sp = Math.sin(this.pitch);
    // Yaw about the up axis, then pitch about the camera's x axis.
    const yawY = [cy, 0, sy, 0, 1, 0, -sy, 0, cy];
    const pitchX = [1, 0, 0, 0, cp, -sp, 0, sp, cp];
    let m = mul3(pitchX, yawY);
    // z-up worlds: map (x, y, z) -> (x, z, -y) first, so z points up on screen.
    if (this.up === "z") m = mul3(m, [1, 0, 0, 0, 0, 1, 0, -1, 0]);
    return m;
  }

  /** A projector for a canvas of w x h device pixels. */
  projector(w, h) {
    const r = this.rotation();
    const [tx, ty, tz] = this.target;
    const d = this.distance;
    const f = (0.5 * h) / Math.tan(this.fov / 2);
    const cx = w / 2, cy = h / 2;
    const near = d * 0.01;
    return {
      r, f, cx, cy, near,
      /** Writes [sx, sy, inverse depth] into out; returns false behind the camera. */
      project(x, y, z, out) {
        const px = x - tx, py = y - ty, pz = z - tz;
        const vx = r[0] * px + r[1] * py + r[2] * pz;
        const vy = r[3] * px + r[4] * py + r[5] * pz;
        const vz = r[6] * px + r[7] * py + r[8] * pz;
        const depth = d - vz;
        if (depth < near) return false;
        const inv = 1 / depth;
        out[0] = cx + f * vx * inv;
        out[1] = cy - f * vy * inv;
        out[2] = inv;
        return true;
      },
    };
  }

  /** The pose relative to the home view (so cameras of scenes of other sizes can share it). */
  pose() {
    const d = this.home.distance;
    return { yaw: this.yaw, pitch: this.pitch, zoom: this.distance / d,
             offset: this.target.map((t, k) => (t - this.home.target[k]) / d) };
  }

  setPose({ yaw, pitch, zoom, offset }) {
    const d = this.home.distance;
    [this.yaw, this.pitch, this.distance] = [yaw, pitch, zoom * d];
    this.target = this.home.target.map((t, k) => t + offset[k] * d);
  }

  rotate(dx, dy) {
    this.yaw += dx * 0.01;
    this.pitch = Math.max(-1.55, Math.min(1.55, this.pitch + dy * 0.01));
  }

  zoom(factor) {
    this.distance = Math.max(this.home.distance * 0.02, Math.min(this.home.distance * 20, this.distance * factor));
  }

  /** Move the target by a screen drag of (dx, dy) CSS pixels on a canvas `height` pixels high. */
  pan(dx, dy, height) {
    const r = this.rotation();
    const scale = (2 * this.distance * Math.tan(this.fov / 2)) / height;
    // Camera right = first row of r, camera up = second row (r is orthonormal).
    for (let k = 0; k < 3; k++) this.target[k] += (-dx * r[k] + dy * r[3 + k]) * scale;
  }
}

function mul3(a, b) {
  const out = new Array(9);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) out[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
  }
  return out;
}

/**
 * Drag to rotate, shift-drag or right-drag to pan, wheel to zoom, double-click
 * to reset.  Calls `redraw()` at most once an animation frame.
 */
export function attachOrbitControls(canvas, camera, redraw) {
  let frame = 0;
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; redraw(); });
  };
  let drag = null;
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, pan: e.shiftKey || e.button === 2 || e.button === 1 };
    canvas.setPointerCapture?.(e.pointerId);
    e.preventDefault();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    drag.x = e.clientX;
    drag.y = e.clientY;
    if (drag.pan) camera.pan(dx, dy, canvas.clientHeight || 300);
    else camera.rotate(dx, dy);
    schedule();
  });
  const end = () => { drag = null; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    camera.zoom(Math.exp(e.deltaY * 0.001));
    schedule();
  }, { passive: false });
  canvas.addEventListener("dblclick", () => { camera.reset(); schedule(); });
}

/** A colour buffer and depth buffer for one frame. */
export class Raster {
  constructor(ctx, w, h) {
    this.ctx = ctx;
    this.w = w;
    this.h = h;
    this.image = ctx.createImageData(w, h);
    this.pixels = new Uint32Array(this.image.data.buffer);
    this.depth = new Float32Array(w * h);  // inverse depth: larger is nearer; 0 is empty
    const [r, g, b] = BACKGROUND;
    this.pixels.fill(packRGB(r, g, b));
  }

  /** Points from a flat xyz array with a packed colour per point; `size` in device pixels. */
  points(positions, colours, projector, size) {
    const { w, h, pixels, depth } = this;
    const out = [0, 0, 0];
    const half = size >> 1;
    const n = positions.length / 3;
    for (let i = 0; i < n; i++) {
      if (!projector.project(positions[3 * i], positions[3 * i + 1], positions[3 * i + 2], out)) continue;
      const x0 = Math.round(out[0]) - half, y0 = Math.round(out[1]) - half;
      if (x0 >= w || y0 >= h || x0 + size <= 0 || y0 + size <= 0) continue;
      const z = out[2], colour = colours[i];
      for (let y = Math.max(0, y0); y < Math.min(h, y0 + size); y++) {
        for (let x = Math.max(0, x0); x < Math.min(w, x0 + size); x++) {
          const p = y * w + x;
          if (z > depth[p]) {
            depth[p] = z;
            pixels[p] = colour;
          }
        }
      }
    }
  }

  /**
   * Flat-shaded triangles: `positions` flat xyz, `indices` three per triangle,
   * `colour` [r, g, b] (or a function of the triangle index), lit from the viewer.
   */
  triangles(positions, indices, colour, projector) {
    const { w, h, pixels, depth } = this;
    const n = positions.length / 3;
    const sx = new Float32Array(n), sy = new Float32Array(n), sz = new Float32Array(n);
    const out = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      if (projector.project(positions[3 * i], positions[3 * i + 1], positions[3 * i + 2], out)) {
        sx[i] = out[0];
        sy[i] = out[1];
        sz[i] = out[2];
      } else {
        sz[i] = -1;  // behind the camera: triangles using it are skipped
      }
    }
    const r = projector.r;
    for (let t = 0; t < indices.length; t += 3) {
      const a = indices[t], b = indices[t + 1], c = indices[t + 2];
      if (sz[a] < 0 || sz[b] < 0 || sz[c] < 0) continue;
      const area = (sx[b] - sx[a]) * (sy[c] - sy[a]) - (sx[c] - sx[a]) * (sy[b] - sy[a]);
      if (area === 0) continue;
      // Lambert shading from the camera's direction (two-sided), by the world normal.
      const ux = positions[3 * b] - positions[3 * a], uy = positions[3 * b + 1] - positions[3 * a + 1];
      const uz = positions[3 * b + 2] - positions[3 * a + 2];
      const vx = positions[3 * c] - positions[3 * a], vy = positions[3 * c + 1] - positions[3 * a + 1];
      const vz = positions[3 * c + 2] - positions[3 * a + 2];
      const nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
      const len = Math.hypot(nx, ny, nz) || 1;
      // The direction towards the camera in world space is the third row of r.
      const lambert = Math.abs((nx * r[6] + ny * r[7] + nz * r[8]) / len);
      const shade = 0.3 + 0.7 * lambert;
      const base = typeof colour === "function" ? colour(t / 3) : colour;
      const packed = packRGB(base[0] * shade, base[1] * shade, base[2] * shade);
      const minX = Math.max(0, Math.floor(Math.min(sx[a], sx[b], sx[c])));
      const maxX = Math.min(w - 1, Math.ceil(Math.max(sx[a], sx[b], sx[c])));
      const minY = Math.max(0, Math.floor(Math.min(sy[a], sy[b], sy[c])));
      const maxY = Math.min(h - 1, Math.ceil(Math.max(sy[a], sy[b], sy[c])));
      const inv = 1 / area;
      for (let y = minY; y <= maxY; y++) {
        const py = y + 0.5;
        for (let x = minX; x <= maxX; x++) {
          const px = x + 0.5;
          const w0 = ((sx[b] - px) * (sy[c] - py) - (sx[c] - px) * (sy[b] - py)) * inv;
          const w1 = ((sx[c] - px) * (sy[a] - py) - (sx[a] - px) * (sy[c] - py)) * inv;
          const w2 = 1 - w0 - w1;
          if (w0 < 0 || w1 < 0 || w2 < 0) continue;
          const z = w0 * sz[a] + w1 * sz[b] + w2 * sz[c];
          const p = y * w + x;
          if (z > depth[p]) {
            depth[p] = z;
            pixels[p] = packed;
          }
        }
      }
    }
  }

  flush() {
    this.ctx.putImageData(this.image, 0, 0);
  }
}

/** [r, g, b] as one little-endian RGBA pixel (alpha 255). */
export function packRGB(r, g, b) {
  return ((255 << 24) | ((b & 255) << 16) | ((g & 255) << 8) | (r & 255)) >>> 0;
}

/**
 * A canvas showing a scene through an OrbitCamera.  `layers` is a function
 * (raster, projector, ctx, ratio) that draws one frame: rasterised geometry
 * into `raster`, then (after `raster.flush()` is called by it or here) lines
 * and text on `ctx`.
 */
export class SceneCanvas {
  constructor(camera, draw, { width = 480, height = 360 } = {}) {
    this.camera = camera;
    this.drawLayers = draw;
    this.width = width;
    this.height = height;
    this.canvas = document.createElement("canvas");
    this.canvas.className = "scene-canvas";
    this.canvas.tabIndex = 0;
    this.canvas.title = "drag: rotate · shift-drag or right-drag: pan · wheel: zoom · double-click: reset";
    // A user's move is announced (`darkroom-camera`, bubbling, with the pose), and a pose can be
    // set from outside (`darkroom-set-camera`): the compare page shares one camera between runs.
    attachOrbitControls(this.canvas, camera, () => {
      this.draw();
      this.canvas.dispatchEvent(new CustomEvent("darkroom-camera", { bubbles: true, detail: camera.pose() }));
    });
    this.canvas.addEventListener("darkroom-set-camera", (e) => { camera.setPose(e.detail); this.draw(); });
  }

  draw() {
    const ratio = window.devicePixelRatio || 1;
    const w = Math.round(this.width * ratio), h = Math.round(this.height * ratio);
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
      this.canvas.style.width = `${this.width}px`;
      this.canvas.style.height = `${this.height}px`;
    }
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    const raster = new Raster(ctx, w, h);
    const projector = this.camera.projector(w, h);
    this.drawLayers(raster, projector, ctx, ratio);
    this.canvas.dataset.frames = String(Number(this.canvas.dataset.frames || 0) + 1);
  }
}
