// What a page's URL keeps of a panel besides its step and zoom: the overlay
// toggles of its images (box groups and classes, score thresholds, mask
// groups, classes and opacity), written as the user changes them and applied
// again when the panel's items make those groups known.

/** The user's overlay toggles of `state`, for the URL: {b: {group: [on, [classes off]]},
 * s: {score: threshold}, m: {group: [on, opacity, {class: on}]}}. */
export function togglesOf(state) {
  const out = { b: {}, s: {}, m: {} };
  for (const [name, g] of state.boxGroups) out.b[name] = [g.on ? 1 : 0, [...g.classes].filter(([, c]) => !c.on).map(([id]) => id)];
  for (const [name, score] of state.scores) out.s[name] = score.threshold;
  for (const [name, g] of state.maskGroups) {
    out.m[name] = [g.on ? 1 : 0, g.opacity, Object.fromEntries([...g.classes].map(([v, c]) => [v, c.on ? 1 : 0]))];
  }
  return out;
}

/** Apply saved toggles to the groups `state` knows; true if any applied. */
export function applyToggles(state, toggles) {
  let applied = false;
  for (const [name, [on, off]] of Object.entries(toggles.b || {})) {
    const g = state.boxGroups.get(name);
    if (!g) continue;
    g.on = Boolean(on);
    for (const [id, c] of g.classes) c.on = !off.includes(id);
    applied = true;
  }
  for (const [name, threshold] of Object.entries(toggles.s || {})) {
    const score = state.scores.get(name);
    if (score && Number.isFinite(threshold)) [score.threshold, applied] = [threshold, true];
  }
  for (const [name, [on, opacity, classes]] of Object.entries(toggles.m || {})) {
    const g = state.maskGroups.get(name);
    if (!g) continue;
    [g.on, g.opacity] = [Boolean(on), Number.isFinite(opacity) ? opacity : g.opacity];
    for (const [v, c] of g.classes) if (v in classes) c.on = Boolean(classes[v]);
    applied = true;
  }
  return applied;
}
