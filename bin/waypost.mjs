#!/usr/bin/env node
// The `waypost` command. Runs the TypeScript sources directly through tsx, so the CLI, the
// server and the workers all execute the same code the tests exercise.
import { register } from "tsx/esm/api";

register();
await import("../cli/index.ts");
