import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { roles, type Role } from "../db/schema";
import { actions, keyMay, permissions, restRoutes, scopesForRole, type Action, type KeyHolder } from "../app/lib/permissions";
import { appRouter } from "../app/trpc/router.server";

/**
 * Renders docs/permissions.md from the permission table and the tRPC router (decision 0740).
 * `npx tsx scripts/permissions-doc.ts` rewrites the file; test/auth/permissions-doc.test.ts fails
 * when the committed file differs from what this renders.
 */

const yes = "✓";
const no = "·";

const keyColumns: Array<{ title: string; holder: KeyHolder }> = [
  { title: "write key", holder: { kind: "write", scope: "full", creatorless: true, creator: null } },
  { title: "secret: read", holder: { kind: "secret", scope: "read", creatorless: true, creator: null } },
  { title: "secret: edit", holder: { kind: "secret", scope: "edit", creatorless: true, creator: null } },
  { title: "secret: full", holder: { kind: "secret", scope: "full", creatorless: true, creator: null } },
];

/** Every procedure of the router with the action its meta names ("—" when it names none). */
export function procedureActions(): Array<{ path: string; type: string; action: Action | undefined }> {
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string; meta?: { action?: Action } } }>;
  return Object.entries(procedures)
    .map(([path, p]) => ({ path, type: p._def.type, action: p._def.meta?.action }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

export function renderPermissionsDoc(): string {
  const shownRoles = [...roles].reverse() as Role[];
  const lines: string[] = [
    "# Permissions",
    "",
    "<!-- Generated from app/lib/permissions.ts and the tRPC router by scripts/permissions-doc.ts; do not edit by hand. -->",
    "",
    "Every action, who may do it signed in, and which API keys may do it over the REST API.",
    "A secret key may do what its scope grants **and** what its creator's role allows now: lowering",
    "the creator's role narrows the key, and a deactivated creator's secret keys may do nothing",
    "(decision 0741). Keys created by the CLI (no creator) are bounded by their scope alone. Write",
    "keys only send events. `·` = refused (401 without credentials, 403 otherwise).",
    "",
    `| action | what | ${shownRoles.join(" | ")} | ${keyColumns.map((k) => k.title).join(" | ")} |`,
    `| --- | --- | ${shownRoles.map(() => ":-:").join(" | ")} | ${keyColumns.map(() => ":-:").join(" | ")} |`,
  ];
  for (const action of actions) {
    const rule = permissions[action];
    const roleCells = shownRoles.map((r) => ((rule.roles as readonly Role[]).includes(r) ? yes : no));
    const keyCells = keyColumns.map((k) => (keyMay(k.holder, action) ? yes : no));
    lines.push(`| \`${action}\` | ${rule.about} | ${roleCells.join(" | ")} | ${keyCells.join(" | ")} |`);
  }
  lines.push(
    "",
    "## Creating keys",
    "",
    "Creating a key needs `apiKeys.manage`. A secret key's scope may be no wider than the creator's role;",
    "a wider one is refused with 403 naming the actions it would add.",
    "",
    "| role | secret-key scopes it may create |",
    "| --- | --- |",
    ...shownRoles.map((r) => `| ${r} | ${permissions["apiKeys.manage"].roles.includes(r as "admin") ? scopesForRole(r).join(", ") || "none" : "none (no apiKeys.manage)"} |`),
    "",
    "## tRPC procedures",
    "",
    "| procedure | type | action |",
    "| --- | --- | --- |",
    ...procedureActions().map((p) => `| \`${p.path}\` | ${p.type} | ${p.action ? `\`${p.action}\`` : "**none**"} |`),
    "",
    "## REST routes",
    "",
    "| method | route | action |",
    "| --- | --- | --- |",
    ...Object.entries(restRoutes).flatMap(([route, methods]) =>
      Object.entries(methods).map(([method, action]) => `| ${method} | \`${route}\` | ${action === "public" ? "public" : `\`${action}\``} |`),
    ),
    "",
  );
  return lines.join("\n");
}

export const permissionsDocPath = fileURLToPath(new URL("../docs/permissions.md", import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(permissionsDocPath, renderPermissionsDoc());
  console.log(`wrote ${permissionsDocPath}`);
}
