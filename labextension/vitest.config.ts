import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'jsdom',
    include: ['test/**/*.test.ts'],
    // JupyterLab's packages import their CSS; the tests need none of it.
    css: false,
    setupFiles: ['test/setup.ts'],
    server: { deps: { inline: [/@jupyterlab\//, /@lumino\//] } }
  }
});
