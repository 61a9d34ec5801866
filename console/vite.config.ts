/// <reference types="vitest" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The gateway serves dist/ at /; in `npm run dev` the graph is proxied to a running gateway.
const gateway = process.env.CRM_GATEWAY_URL ?? "http://127.0.0.1:4000";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
  },
  server: {
    proxy: {
      "/graphql": { target: gateway, ws: true },
      "/dev": gateway,
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
