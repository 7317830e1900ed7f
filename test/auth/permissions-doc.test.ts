import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { actions, permissions, scopesForRole, widerThanRole } from "../../app/lib/permissions";
import { permissionsDocPath, procedureActions, renderPermissionsDoc } from "../../scripts/permissions-doc";

describe("docs/permissions.md", () => {
  it("is what scripts/permissions-doc.ts renders from the table and the router (run `npx tsx scripts/permissions-doc.ts` after a change)", () => {
    expect(readFileSync(permissionsDocPath, "utf8")).toBe(renderPermissionsDoc());
  });

  it("names an action for every tRPC procedure", () => {
    expect(procedureActions().filter((p) => !p.action).map((p) => p.path)).toEqual([]);
  });

  it("keeps key scopes inside roles: admin may create every scope, a developer read and edit, and no scope reaches an admin-only action below full", () => {
    expect(scopesForRole("admin")).toEqual(["read", "edit", "full"]);
    expect(scopesForRole("developer")).toEqual(["read", "edit"]);
    expect(widerThanRole("secret", "full", "developer")).toEqual(["journeys.pause", "journeys.resume", "users.erase"]);
    for (const action of actions) {
      const rule = permissions[action];
      // Whatever a scope below full grants, every role that may create keys may do too.
      if (rule.key === "read" || rule.key === "edit") expect(rule.roles, action).toEqual(expect.arrayContaining(["developer", "admin"]));
    }
  });
});
