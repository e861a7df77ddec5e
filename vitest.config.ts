import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // Workspace packages are imported from their TypeScript sources in tests (see package exports).
    conditions: ["roadpulse-source"],
  },
  ssr: { resolve: { conditions: ["roadpulse-source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts"],
    globalSetup: ["packages/server/test/support/global-setup.ts"],
    setupFiles: ["packages/server/test/support/file-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes; two files at a time fit this machine's two cores.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
