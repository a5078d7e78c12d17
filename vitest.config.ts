import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Nest needs `design:paramtypes`; oxc emits it like tsc's emitDecoratorMetadata.
  oxc: {
    decorator: {
      legacy: true,
      emitDecoratorMetadata: true,
    },
  },
  test: {
    root: './',
    include: ['test/**/*.spec.ts'],
    hookTimeout: 30000,
    testTimeout: 30000,
    sequence: { hooks: 'stack' },
  },
});
