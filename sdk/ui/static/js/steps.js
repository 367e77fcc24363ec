// Steps: what the page's one step axis needs (the run page's and the compare page's).

/** The index in sorted `steps` of the step nearest `step` (a tie: the earlier); -1 for no steps. */
export function nearestIndex(steps, step) {
  let lo = 0, hi = steps.length - 1;
  if (hi < 0) return -1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (steps[mid] < step) lo = mid; else hi = mid;
  }
  return Math.abs(steps[lo] - step) <= Math.abs(steps[hi] - step) ? lo : hi;
}

/** The sorted union of several sorted step lists. */
export function unionSteps(lists) {
  return [...new Set(lists.flat())].sort((a, b) => a - b);
}

/** Whether a key press in `target` belongs to the control itself (a slider, a menu, a text box), not the page. */
export function keyOwnedByControl(target) {
  return Boolean(target?.closest?.("input:not([type=checkbox]):not([type=button]), select, textarea, [contenteditable]"));
}

/**
 * The x-axis value of `step` in a run whose scalars are `scalars` ({key: [[step, value], ...]}):
 * the step itself on the axis "_step", else the axis metric's value logged at or before it (undefined: none).
 */
export function xOf(scalars, axis, step) {
  if (axis === "_step") return step;
  const points = scalars?.[axis] || [];
  let lo = 0, hi = points.length - 1, found;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid][0] <= step) {
      if (points[mid][1] !== null) found = points[mid][1];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
