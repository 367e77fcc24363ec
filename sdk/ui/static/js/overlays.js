// What a panel shows over its images: box groups, their classes, a score
// threshold per score name, mask groups with an opacity and their classes.
// One OverlayState per panel (or table), shared by every image in it, so a
// toggle applies to the whole grid and survives moving the step slider.

import { h, replaceChildren, formatNumber } from "./dom.js";
import { classColour } from "./palette.js";

/** The mask groups of a media item: [{name, url, labels: {value: label}}].
 * The server sends them as `masks` {name: {url, class_labels}} (sdk/ui/run_json.py, `media_item`). */
export function maskGroupsOf(item) {
  return Object.entries(item.masks || {}).filter(([, spec]) => spec.url)
    .map(([name, spec]) => ({ name, url: spec.url, labels: { ...spec.class_labels } }));
}

/** The box groups of a media item: [[name, {box_data, class_labels}]]. */
export function boxGroupsOf(item) {
  return Object.entries(item.boxes || {}).filter(([, g]) => g && Array.isArray(g.box_data));
}

export class OverlayState extends EventTarget {
  constructor() {
    super();
    this.boxGroups = new Map();   // name -> {on, classes: Map(id -> {label, on})}
    this.scores = new Map();      // score name -> {min, max, threshold}
    this.maskGroups = new Map();  // name -> {on, opacity, classes: Map(value -> {label, on})}
  }

  get empty() {
    return this.boxGroups.size === 0 && this.maskGroups.size === 0;
  }

  /** Learn the groups, classes and scores of `items`; true if anything new appeared. */
  absorb(items) {
    let grew = false;
    for (const item of items) {
      for (const [name, group] of boxGroupsOf(item)) {
        if (!this.boxGroups.has(name)) {
          this.boxGroups.set(name, { on: true, classes: new Map() });
          grew = true;
        }
        const classes = this.boxGroups.get(name).classes;
        for (const box of group.box_data) {
          const id = String(box.class_id);
          if (!classes.has(id)) {
            classes.set(id, { label: group.class_labels?.[id] ?? `class_${id}`, on: true });
            grew = true;
          }
          for (const [score, value] of Object.entries(box.scores || {})) {
            grew = this.#absorbScore(score, Number(value)) || grew;
          }
        }
      }
      for (const mask of maskGroupsOf(item)) {
        if (!this.maskGroups.has(mask.name)) {
          this.maskGroups.set(mask.name, { on: true, opacity: 0.5, classes: new Map() });
          grew = true;
        }
        const classes = this.maskGroups.get(mask.name).classes;
        for (const [value, label] of Object.entries(mask.labels)) {
          if (!classes.has(value)) {
            // 0 is the background by convention: hidden until asked for, unless
            // the user gave it a name of its own.
            classes.set(value, { label, on: !(value === "0" && label === "class_0") });
            grew = true;
          }
        }
      }
    }
    return grew;
  }

  #absorbScore(name, value) {
    if (!Number.isFinite(value)) return false;
    const known = this.scores.get(name);
    if (!known) {
      const min = Math.min(0, value);
      this.scores.set(name, { min, max: Math.max(1, value), threshold: min });
      return true;
    }
    if (value < known.min || value > known.max) {
      known.min = Math.min(known.min, value);
      known.max = Math.max(known.max, value);
      return true;
    }
    return false;
  }

  /** Whether `box` of box group `group` is drawn. */
  boxVisible(group, box) {
    const g = this.boxGroups.get(group);
    if (!g || !g.on) return false;
    if (g.classes.get(String(box.class_id))?.on === false) return false;
    for (const [name, value] of Object.entries(box.scores || {})) {
      const s = this.scores.get(name);
      if (s && Number(value) < s.threshold) return false;
    }
    return true;
  }

  /** A mask group's class values to colour, or null when the group is off. */
  maskClasses(group) {
    const g = this.maskGroups.get(group);
    if (!g || !g.on) return null;
    return new Set([...g.classes].filter(([, c]) => c.on).map(([v]) => Number(v)));
  }

  maskOpacity(group) {
    return this.maskGroups.get(group)?.opacity ?? 0.5;
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }
}

/** The controls of an OverlayState; rebuilt by `update()` when new groups appear. */
export class OverlayControls {
  constructor(state) {
    this.state = state;
    this.element = h("div", { class: "overlay-controls" });
    this.update();
  }

  update() {
    const s = this.state;
    const parts = [];
    for (const [name, group] of s.boxGroups) {
      parts.push(h("div", { class: "overlay-group box-group", dataset: { group: name } },
        toggle(`boxes: ${name}`, group.on, (on) => { group.on = on; s.changed(); }, "group-toggle"),
        [...group.classes].map(([id, cls]) => classChip(id, cls, () => s.changed())),
      ));
    }
    for (const [name, score] of s.scores) {
      const step = (score.max - score.min) / 100 || 0.01;
      const output = h("output", {}, formatNumber(score.threshold));
      parts.push(h("label", { class: "overlay-group score", dataset: { score: name } },
        `${name} ≥ `,
        h("input", {
          type: "range", min: score.min, max: score.max, step, value: score.threshold,
          "aria-label": `${name} threshold`,
          oninput: (e) => {
            score.threshold = Number(e.target.value);
            output.textContent = formatNumber(score.threshold);
            s.changed();
          },
        }),
        output,
      ));
    }
    for (const [name, group] of s.maskGroups) {
      const output = h("output", {}, `${Math.round(group.opacity * 100)}%`);
      parts.push(h("div", { class: "overlay-group mask-group", dataset: { group: name } },
        toggle(`mask: ${name}`, group.on, (on) => { group.on = on; s.changed(); }, "group-toggle"),
        h("label", { class: "opacity" }, "opacity ",
          h("input", {
            type: "range", min: 0, max: 1, step: 0.05, value: group.opacity, dataset: { role: "opacity" },
            "aria-label": `${name} mask opacity`,
            oninput: (e) => {
              group.opacity = Number(e.target.value);
              output.textContent = `${Math.round(group.opacity * 100)}%`;
              s.changed();
            },
          }),
          output),
        h("span", { class: "legend" }, [...group.classes].map(([value, cls]) => classChip(value, cls, () => s.changed()))),
      ));
    }
    replaceChildren(this.element, parts);
    this.element.hidden = parts.length === 0;
  }
}

function toggle(text, on, onChange, role) {
  return h("label", { class: "toggle" },
    h("input", { type: "checkbox", checked: on, dataset: { role }, onchange: (e) => onChange(e.target.checked) }),
    text);
}

function classChip(id, cls, changed) {
  const colour = classColour(id);
  return h("label", { class: "class-chip", dataset: { classId: id, color: colour }, title: `class ${id}` },
    h("input", { type: "checkbox", checked: cls.on, onchange: (e) => { cls.on = e.target.checked; changed(); } }),
    h("span", { class: "swatch", style: { background: colour } }),
    cls.label);
}
