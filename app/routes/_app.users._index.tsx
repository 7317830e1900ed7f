import type { LoaderFunctionArgs } from "@remix-run/node";
import { json } from "@remix-run/node";
import { Form, Link, useLoaderData, useRevalidator } from "@remix-run/react";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { EmptyState } from "../components/EmptyState";
import { requireSession } from "../lib/session.server";
import { trpc } from "../trpc/client";
import { useDateTime } from "../users/format";
import { countUsers, searchUsers, type UserListItem } from "../users/profiles.server";

export async function loader({ request, context }: LoaderFunctionArgs) {
  const session = await requireSession(request, context);
  const search = new URL(request.url).searchParams.get("q")?.trim() ?? "";
  const db = context.services.db;
  const [items, total] = await Promise.all([searchUsers(db, session.workspaceId, { search, limit: 50 }), countUsers(db, session.workspaceId)]);
  return json({ items, total, search });
}

export default function UsersPage() {
  const { items, total, search } = useLoaderData<typeof loader>();
  const { t } = useTranslation("data");
  const when = useDateTime();
  const utils = trpc.useUtils();
  const [more, setMore] = useState<UserListItem[]>([]);
  const [exhausted, setExhausted] = useState(items.length < 50);
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    setMore([]);
    setExhausted(items.length < 50);
  }, [items]);

  const rows = [...items, ...more];
  const loadMore = async () => {
    setLoading(true);
    try {
      const page = await utils.users.list.fetch({ search: search || undefined, after: rows.at(-1)?.id, limit: 50 });
      setMore((m) => [...m, ...page.items]);
      if (page.items.length < 50) setExhausted(true);
    } finally {
      setLoading(false);
    }
  };

  return (
    <>
      <div className="data-header">
        <h1>{t("users.title")}</h1>
        <span className="muted" data-testid="users-total">
          {t("users.total", { count: total })}
        </span>
      </div>
      <Form method="get" className="row data-search" role="search">
        <input name="q" defaultValue={search} placeholder={t("users.searchPlaceholder")} aria-label={t("users.searchPlaceholder")} data-testid="users-search" />
        <button type="submit" className="primary">
          {t("users.search")}
        </button>
        {search ? (
          <Link to="/users" className="data-link-button">
            {t("users.clear")}
          </Link>
        ) : null}
      </Form>
      {total === 0 ? (
        <EmptyState area="users" />
      ) : rows.length === 0 ? (
        <p className="muted">{t("users.noMatch", { search })}</p>
      ) : (
        <table className="table data-table" data-testid="users-table">
          <thead>
            <tr>
              <th>{t("users.columns.user")}</th>
              <th>{t("users.columns.email")}</th>
              <th>{t("users.columns.phone")}</th>
              <th>{t("users.columns.tags")}</th>
              <th>{t("users.columns.lastSeen")}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((user) => (
              <tr key={user.id}>
                <td>
                  <Link to={`/users/${encodeURIComponent(user.id)}`}>{user.id}</Link>
                  {user.name ? <div className="muted">{user.name}</div> : null}
                </td>
                <td>{user.email ?? "—"}</td>
                <td>{user.phone ?? "—"}</td>
                <td>
                  {user.tags.map((tag) => (
                    <span key={tag} className="data-tag">
                      {tag}
                    </span>
                  ))}
                </td>
                <td>{when(user.lastSeenAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!exhausted && rows.length > 0 ? (
        <button type="button" onClick={loadMore} disabled={loading} className="data-more">
          {t("users.loadMore")}
        </button>
      ) : null}
      <CsvImport />
    </>
  );
}

function CsvImport() {
  const { t } = useTranslation("data");
  const revalidator = useRevalidator();
  const [file, setFile] = useState<File | null>(null);
  const [tagsMode, setTagsMode] = useState<"add" | "replace">("add");
  const [importId, setImportId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const start = trpc.users.importCsv.useMutation({ onSuccess: (r) => setImportId(r.importId), onError: (e) => setError(e.message) });
  const status = trpc.users.importStatus.useQuery(
    { importId: importId ?? "00000000-0000-0000-0000-000000000000" },
    { enabled: Boolean(importId), refetchInterval: (q) => (q.state.data?.status === "running" || !q.state.data ? 500 : false) },
  );
  const finished = status.data && status.data.status !== "running";
  useEffect(() => {
    if (finished) revalidator.revalidate();
    // Refresh the list once when an import finishes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [finished]);

  const data = status.data;
  const percent = data && data.totalRows ? Math.min(100, Math.round((data.processedRows / Math.max(data.totalRows, 1)) * 100)) : 0;
  return (
    <section className="card data-import" data-testid="csv-import">
      <h2>{t("users.import.title")}</h2>
      <p className="muted">{t("users.import.help")}</p>
      <form
        className="row"
        onSubmit={async (event) => {
          event.preventDefault();
          setError(null);
          if (!file) return;
          setImportId(null);
          start.mutate({ filename: file.name, content: await file.text(), tagsMode });
        }}
      >
        <label>
          {t("users.import.file")}
          <input type="file" accept=".csv,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} data-testid="csv-file" />
        </label>
        <label>
          {t("users.import.tagsMode")}
          <select value={tagsMode} onChange={(e) => setTagsMode(e.target.value as "add" | "replace")}>
            <option value="add">{t("users.import.tagsAdd")}</option>
            <option value="replace">{t("users.import.tagsReplace")}</option>
          </select>
        </label>
        <button type="submit" className="primary" disabled={!file || start.isPending || data?.status === "running"} data-testid="csv-start">
          {t("users.import.start")}
        </button>
      </form>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {data ? (
        <div className="data-import-status" data-testid="csv-status" data-status={data.status}>
          {data.status === "running" ? (
            <>
              <div className="data-progress" role="progressbar" aria-valuenow={percent} aria-valuemin={0} aria-valuemax={100}>
                <div style={{ width: `${percent}%` }} />
              </div>
              <p>{t("users.import.running", { processed: data.processedRows, total: data.totalRows ?? "?" })}</p>
            </>
          ) : data.status === "done" ? (
            <p className="notice">{t("users.import.done", { imported: data.importedRows, failed: data.failedRows })}</p>
          ) : (
            <p className="form-error">{t("users.import.failed", { message: data.message ?? "" })}</p>
          )}
          {data.errors.length > 0 ? (
            <>
              <h3>{t("users.import.badRows")}</h3>
              <table className="table data-table" data-testid="csv-errors">
                <thead>
                  <tr>
                    <th>{t("users.import.line")}</th>
                    <th>{t("users.import.column")}</th>
                    <th>{t("users.import.problem")}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.errors.slice(0, 200).map((e, i) => (
                    <tr key={`${e.line}-${i}`}>
                      <td>{e.line}</td>
                      <td>{e.column ? <code>{e.column}</code> : "—"}</td>
                      <td>{e.message}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {data.failedRows > 200 ? <p className="muted">{t("users.import.more", { count: data.failedRows - 200 })}</p> : null}
            </>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
