import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Parity tests hold a few models in memory at once; two workers suit this 2-core machine.
    maxWorkers: 2,
  },
});
