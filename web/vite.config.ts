// Builds the console into dist/, which web/embed.go embeds in the binary.
// The output must be byte-for-byte reproducible from package-lock.json:
// `make check-generated` rebuilds it and compares with what is committed.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/ui/",
  publicDir: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The preload polyfill would be an inline script, refused by the CSP.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    sourcemap: false,
    assetsInlineLimit: 0,
  },
});
