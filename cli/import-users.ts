import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import type { Config } from "../app/config.server";
import { ensureDefaultWorkspace } from "../app/lib/accounts.server";
import { importUsersCsv } from "../app/users/csv-import.server";
import { createServices } from "./services";

/**
 * `waypost import-users <file.csv>`: imports into the default workspace, printing progress and
 * every bad row (line, column, why). Exit code 0 when every row was imported, 1 when some rows
 * were bad or the file could not be imported.
 */
export async function importUsersFromFile(config: Config, file: string, tagsMode: "add" | "replace"): Promise<number> {
  let content: string;
  try {
    content = await readFile(file, "utf8");
  } catch (error) {
    console.error(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  const services = await createServices(config);
  try {
    const workspace = await ensureDefaultWorkspace(services.db);
    let lastPrinted = 0;
    const result = await importUsersCsv(services, workspace.id, content, {
      filename: basename(file),
      tagsMode,
      onProgress: (p) => {
        if (p.processed - lastPrinted >= 10_000 || p.processed === p.total) {
          lastPrinted = p.processed;
          console.log(`  ${p.processed} / ~${p.total} rows · ${p.imported} imported · ${p.failed} bad`);
        }
      },
    });
    for (const e of result.errors) console.error(`line ${e.line}${e.column ? `, column ${e.column}` : ""}: ${e.message}`);
    if (result.failed > result.errors.length) console.error(`...and ${result.failed - result.errors.length} more bad rows`);
    if (result.message) {
      console.error(result.message);
      return 1;
    }
    console.log(`imported ${result.imported} users from ${basename(file)}; ${result.failed} bad rows (import ${result.importId})`);
    return result.failed > 0 ? 1 : 0;
  } finally {
    await services.database.close();
  }
}
