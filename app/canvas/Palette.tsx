import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import type { AnyNodeDefinition, NodeCategory } from "../../nodes/define";
import { listNodeDefinitions } from "../../nodes/registry";
import { useLocale } from "./locale";

/** The drag payload type: only our palette items are accepted as drops on the canvas. */
export const PALETTE_MIME = "application/x-waypost-node";

/**
 * Every registered node type, grouped by category. Drag an item onto the canvas, or focus it
 * and press Enter to add it in the middle of the view (keyboard users and touchpads).
 */
export function Palette({ onAdd, disabled }: { onAdd(type: string): void; disabled: boolean }) {
  const { t } = useTranslation("canvas");
  const locale = useLocale();
  const [query, setQuery] = useState("");
  const groups = useMemo(() => {
    const q = query.trim().toLowerCase();
    const match = (d: AnyNodeDefinition) =>
      !q || [d.label.en, d.label.zh, d.description.en, d.description.zh, d.type].some((s) => s.toLowerCase().includes(q));
    const byCategory = new Map<NodeCategory, AnyNodeDefinition[]>();
    for (const def of listNodeDefinitions().filter(match)) byCategory.set(def.category, [...(byCategory.get(def.category) ?? []), def]);
    return [...byCategory.entries()];
  }, [query]);

  return (
    <aside className="wp-palette" aria-label={t("palette.title")}>
      <input type="search" className="wp-palette-search" placeholder={t("palette.search")} aria-label={t("palette.search")} value={query} onChange={(e) => setQuery(e.target.value)} />
      {groups.map(([category, defs]) => (
        <section key={category}>
          <h3>{t(`palette.categories.${category}`)}</h3>
          <ul>
            {defs.map((def) => (
              <li key={def.type}>
                <button
                  type="button"
                  className={`wp-palette-item cat-${def.category}`}
                  draggable={!disabled}
                  disabled={disabled}
                  data-testid={`palette-${def.type}`}
                  title={def.description[locale]}
                  aria-label={t("palette.add", { label: def.label[locale] })}
                  onDragStart={(event) => {
                    event.dataTransfer.setData(PALETTE_MIME, def.type);
                    event.dataTransfer.effectAllowed = "copy";
                  }}
                  onClick={() => onAdd(def.type)}
                >
                  <span className="wp-node-icon" aria-hidden>
                    {def.icon}
                  </span>
                  <span>
                    <strong>{def.label[locale]}</strong>
                    <small>{def.description[locale]}</small>
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      ))}
      {groups.length === 0 ? <p className="muted">{t("palette.noMatch")}</p> : null}
    </aside>
  );
}
