// Route modules import server code from app/*.server.ts only: the browser build drops those.
import { readFile } from "node:fs/promises";
import { inspectorModuleOf } from "../../nodes/extension/loader.server";

export { describeExtensionNodes } from "../../nodes/extension/describe.server";

/** The source of a loaded extension node's inspector module; null when it has none. */
export async function readExtensionInspector(nodeType: string): Promise<string | null> {
  const file = inspectorModuleOf(nodeType);
  return file ? readFile(file, "utf8") : null;
}
