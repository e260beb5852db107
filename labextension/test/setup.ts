/** jsdom lacks a few browser APIs Lumino and JupyterLab touch at import time. */
const g = globalThis as unknown as Record<string, unknown>;

if (typeof g['DragEvent'] === 'undefined') {
  g['DragEvent'] = class DragEvent extends MouseEvent {};
}
if (typeof g['ResizeObserver'] === 'undefined') {
  g['ResizeObserver'] = class ResizeObserver {
    observe(): void {}
    unobserve(): void {}
    disconnect(): void {}
  };
}
