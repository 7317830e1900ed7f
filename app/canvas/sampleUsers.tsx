import { createContext, useContext, useMemo, useState, type ReactNode } from "react";
import type { UserSnapshot } from "../../nodes/runtime";

/**
 * The user message previews render for. The editor provides real users from the workspace; the
 * built-in sample keeps previews working on an empty workspace (and in tests).
 */
export const SAMPLE_USER: UserSnapshot = {
  id: "sample-user",
  traits: { name: "王小明", city: "上海", orders_count: 1, lifetime_value: 268, tags: ["美食爱好者"] },
  timezone: "Asia/Shanghai",
};

interface SampleUsers {
  users: UserSnapshot[];
  current: UserSnapshot;
  select(id: string): void;
}

const Ctx = createContext<SampleUsers>({ users: [SAMPLE_USER], current: SAMPLE_USER, select: () => {} });

export function SampleUsersProvider({ users, children }: { users: UserSnapshot[]; children: ReactNode }) {
  const [selected, setSelected] = useState<string | null>(null);
  const value = useMemo(() => {
    const all = [SAMPLE_USER, ...users.filter((u) => u.id !== SAMPLE_USER.id)];
    return { users: all, current: all.find((u) => u.id === selected) ?? all[0], select: setSelected };
  }, [users, selected]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useSampleUsers(): SampleUsers {
  return useContext(Ctx);
}

/** How a user is named in pickers: their name trait, else their id. */
export function userLabel(user: UserSnapshot): string {
  const name = typeof user.traits.name === "string" ? user.traits.name : null;
  return name ? `${name} · ${user.id}` : user.id;
}
