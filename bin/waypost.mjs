#!/usr/bin/env node
// The `waypost` command. Runs the TypeScript sources directly through tsx, so the CLI, the
// server and the workers all execute the same code the tests exercise.
import { register } from "tsx/esm/api";

// Production unless the environment says otherwise (npm start, npx waypost start): React and Remix
// then answer without development stacks or server paths (issue 13). Tests set NODE_ENV=test.
process.env.NODE_ENV ??= "production";

register();
await import("../cli/index.ts");
