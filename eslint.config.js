import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: [".*-scratch/", "node_modules/", "build/", "public/build/", ".cache/", ".data/", "test-results/", "db/migrations/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    plugins: { "react-hooks": reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "no-console": "off",
    },
  },
  {
    // Layers point one way (ARCHITECTURE.md): the runtime never imports the app. What it needs from
    // the app (logger, config, services, hooks) arrives as interfaces it defines (decision 0902).
    files: ["nodes/**/*.{ts,tsx,mts}", "workflows/**/*.{ts,tsx,mts}"],
    ignores: ["**/*.test.ts", "**/*.test.tsx"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ regex: "^(\\.\\./)+app(/|$)|^~/", message: "nodes/ and workflows/ must not import from app/: define the interface in the runtime and let the app pass it in." }] }],
    },
  },
);
