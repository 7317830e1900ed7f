import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";

/** The browser suite serves the production build; build it when missing (npm test always rebuilds first). */
export default function setup() {
  if (!existsSync("build/index.js") || process.env.WAYPOST_REBUILD === "1") {
    execFileSync("npx", ["remix", "build"], { stdio: "inherit" });
  }
  if (!existsSync("build/index.js") || statSync("build/index.js").size === 0) throw new Error("remix build produced no server build");
}
