import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { getNodeDefinition } from "../../nodes/registry";
import { trpc } from "../trpc/client";
import { useLocale } from "./locale";

/**
 * After a publish: keep the users of older versions where they are (the default), or move them to
 * the live version. Nodes that exist in both versions map by id; the operator maps the others to
 * a node of the new version or exits their users there (docs/engines.md, decisions 1130–1134).
 */

type Choice = { to: string } | { exit: true } | null;

export interface LiveNode {
  id: string;
  type: string;
  label?: string;
}

export function MoveUsersDialog({ journeyId, version, nodes, onClose }: { journeyId: string; version: number; nodes: readonly LiveNode[]; onClose(message?: string): void }) {
  const { t } = useTranslation("canvas");
  const locale = useLocale();
  const occupancy = trpc.operations.moveOccupancy.useQuery({ journeyId }, { staleTime: 0 });
  const move = trpc.operations.moveUsers.useMutation();
  const [choices, setChoices] = useState<Record<string, Choice>>({});
  const [problems, setProblems] = useState<string[]>([]);

  const nameOf = (node: LiveNode) => node.label || getNodeDefinition(node.type)?.label[locale] || node.id;
  const targets = nodes.filter((n) => getNodeDefinition(n.type)?.kind !== "trigger");
  /** Users waiting per node of the older versions, all versions together (the plan is per node). */
  const occupied = useMemo(() => {
    const byNode = new Map<string, { users: number; versions: number[]; node: LiveNode }>();
    for (const o of occupancy.data ?? []) {
      const entry = byNode.get(o.nodeId) ?? { users: 0, versions: [], node: { id: o.nodeId, type: o.type ?? "", ...(o.label ? { label: o.label } : {}) } };
      entry.users += Number(o.users);
      if (!entry.versions.includes(o.version)) entry.versions.push(o.version);
      byNode.set(o.nodeId, entry);
    }
    return [...byNode.entries()];
  }, [occupancy.data]);

  const choiceOf = (nodeId: string): Choice => (nodeId in choices ? choices[nodeId]! : targets.some((n) => n.id === nodeId) ? { to: nodeId } : null);
  const unmapped = occupied.filter(([nodeId]) => choiceOf(nodeId) === null).length;

  const submit = async () => {
    const plan = Object.fromEntries(occupied.map(([nodeId]) => [nodeId, choiceOf(nodeId)!]));
    const result = await move.mutateAsync({ journeyId, plan });
    if (!result.ok) {
      setProblems(result.problems.map((p) => t(`move.problem.${p.code}`, { node: p.nodeId, target: "target" in p ? p.target : "" })));
      return;
    }
    const moved = result.moved + (result.temporal?.moved ?? 0);
    const exited = result.exited + (result.temporal?.exited ?? 0);
    onClose(t("move.done", { moved, exited, busy: result.busy, version }));
  };

  return (
    <div className="wp-dialog-backdrop" role="presentation">
      <section className="wp-dialog" role="dialog" aria-modal="true" aria-labelledby="move-title" data-testid="move-dialog">
        <h2 id="move-title">{t("move.title", { version })}</h2>
        {occupancy.isLoading ? <p className="muted">{t("move.loading")}</p> : null}
        {occupancy.data && occupied.length === 0 ? <p>{t("move.nobody")}</p> : null}
        {occupied.length > 0 ? (
          <>
            <p className="muted">{t("move.intro")}</p>
            <table className="table">
              <thead>
                <tr>
                  <th>{t("move.where")}</th>
                  <th>{t("move.users")}</th>
                  <th>{t("move.goesTo")}</th>
                </tr>
              </thead>
              <tbody>
                {occupied.map(([nodeId, info]) => {
                  const choice = choiceOf(nodeId);
                  const value = choice === null ? "" : "exit" in choice ? "__exit" : choice.to;
                  return (
                    <tr key={nodeId} data-testid={`move-row-${nodeId}`}>
                      <td title={nodeId}>
                        {nameOf(info.node)}
                        <span className="muted"> · {t("move.versions", { list: info.versions.sort((a, b) => a - b).join(", ") })}</span>
                      </td>
                      <td>{info.users.toLocaleString(locale === "zh" ? "zh-CN" : "en-US")}</td>
                      <td>
                        <select
                          value={value}
                          aria-label={t("move.goesTo")}
                          onChange={(e) => setChoices({ ...choices, [nodeId]: e.target.value === "" ? null : e.target.value === "__exit" ? { exit: true } : { to: e.target.value } })}
                          data-testid={`move-target-${nodeId}`}
                        >
                          <option value="">{t("move.choose")}</option>
                          {targets.map((n) => (
                            <option key={n.id} value={n.id}>
                              {nameOf(n)}
                            </option>
                          ))}
                          <option value="__exit">{t("move.exit")}</option>
                        </select>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </>
        ) : null}
        {problems.length ? (
          <ul className="form-error" role="alert">
            {problems.map((p, i) => (
              <li key={i}>{p}</li>
            ))}
          </ul>
        ) : null}
        {move.error ? (
          <p className="form-error" role="alert">
            {move.error.message}
          </p>
        ) : null}
        <footer className="wp-dialog-actions">
          <button type="button" onClick={() => onClose()} data-testid="move-keep">
            {t("move.keep")}
          </button>
          {occupied.length > 0 ? (
            <button type="button" className="primary" disabled={unmapped > 0 || move.isPending} onClick={() => void submit()} data-testid="move-submit">
              {unmapped > 0 ? t("move.mapFirst", { count: unmapped }) : t("move.submit", { version })}
            </button>
          ) : null}
        </footer>
      </section>
    </div>
  );
}
