import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Room for a loaded machine: a test that takes 20 s alone can take minutes when other jobs share the two
    // cores. Time is never what a test asserts (speed lives in `bisenet bench`); these only catch hangs.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Parity tests hold a few models in memory at once; two workers suit this 2-core machine.
    maxWorkers: 2,
  },
});
