import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { json } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { useTranslation } from "react-i18next";
import { JourneyNotFoundError } from "../lib/journeys.server";
import { requireSessionFor } from "../lib/permissions.server";
import { journeyReport, parseReportRange, ReportInputError } from "../lib/report.server";
import { stepNames, toCsv } from "../lib/report-stats";
import { useFailureReason, useNodeNames } from "../ops/names";
import { ReportChart } from "../report/Chart";
import { useDateTime } from "../components/useDateTime";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: data ? `${data.report.name} · Waypost` : "Waypost" }];

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const session = await requireSessionFor(request, context, "journeys.read");
  const journeyId = params.journeyId ?? "";
  if (!UUID.test(journeyId)) throw new Response("Not found", { status: 404 });
  const url = new URL(request.url);
  const query = { from: url.searchParams.get("from"), to: url.searchParams.get("to"), version: url.searchParams.get("version"), event: url.searchParams.get("event") };
  try {
    const report = await journeyReport(context.services.db, session.workspaceId, journeyId, parseReportRange(query));
    return json({ report, query });
  } catch (error) {
    if (error instanceof ReportInputError) throw new Response(error.message, { status: 400 });
    if (error instanceof JourneyNotFoundError) throw new Response("Not found", { status: 404 });
    throw error;
  }
}

type Cell = string | number | null;

/** Saves one table as CSV in the browser (the data is already on the page). */
function download(name: string, header: string[], rows: Cell[][]) {
  const blob = new Blob([toCsv(header, rows)], { type: "text/csv;charset=utf-8" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `${name}.csv`;
  a.click();
  URL.revokeObjectURL(a.href);
}

function Table({ id, title, header, rows, file, children }: { id: string; title: string; header: string[]; rows: Cell[][]; file: string; children?: React.ReactNode }) {
  const { t } = useTranslation("report");
  return (
    <section className="card" data-testid={`report-${id}`}>
      <div className="data-header">
        <h2>{title}</h2>
        <button type="button" className="data-push-right" onClick={() => download(file, header, rows)}>
          {t("csv")}
        </button>
      </div>
      {children}
      {rows.length === 0 ? (
        <p className="muted">{t("empty")}</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              {header.map((h) => (
                <th key={h}>{h}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i}>
                {r.map((c, j) => (
                  <td key={j}>{c ?? "—"}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export default function JourneyReportPage() {
  const { report, query } = useLoaderData<typeof loader>();
  const { t, i18n } = useTranslation("report");
  const pct = (v: number | null | undefined) => (v === null || v === undefined ? "—" : new Intl.NumberFormat(i18n.language, { style: "percent", maximumFractionDigits: 1 }).format(v));
  const pts = (v: number) => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)} ${t("points")}`;
  const num = (v: number) => new Intl.NumberFormat(i18n.language).format(v);
  const stage = (s: string) => t(`stage.${s}`);
  // The report's own short words, else the channels' / engine's reason labels (decision 1152), else the code.
  const failureReason = useFailureReason();
  const reason = (r: string) => t(`reason.${r}`, { defaultValue: "" }) || failureReason(r);
  const file = (table: string) => `${report.name}-${table}`.replace(/[\\/:*?"<>|\s]+/g, "_");
  const up = report.uplift.result;
  const names = useNodeNames(report.nodeNames);
  const when = useDateTime();

  const channel = (c: string) => t(`channel.${c}`, { defaultValue: c });
  // Each step named once (decision 1152 + report-stats stepNames): "SMS", not "SMS (SMS)"; "SMS 1", "SMS 2" when two read the same.
  const steps = stepNames([
    ...report.funnel.steps.map((s) => ({ nodeId: s.nodeId, name: names.node(s.nodeId), channel: channel(s.channel) })),
    ...report.loss.map((l) => ({ nodeId: l.nodeId, name: names.node(l.nodeId), channel: channel(l.channel) })),
    ...report.splits.map((s) => ({ nodeId: s.nodeId, name: names.node(s.nodeId) })),
  ]);
  const stepName = (nodeId: string) => steps[nodeId]?.name ?? names.node(nodeId);
  const stepWithChannel = (nodeId: string, c: string) => (steps[nodeId]?.withChannel ? t("stepWithChannel", { name: stepName(nodeId), channel: channel(c) }) : stepName(nodeId));
  const anySent = report.sendHours.rows.some((r) => r.sent > 0);
  // Why there is no best hour (decision 0861): nobody converted after a send, or no hour has enough sends to rank.
  const anyConverted = report.sendHours.rows.some((r) => r.converted > 0);
  const anyEnough = report.sendHours.rows.some((r) => r.sent >= report.sendHours.minSent);

  const funnelCats = [t("funnel.entered"), ...report.funnel.steps.map((s) => stepWithChannel(s.nodeId, s.channel)), t("funnel.goal")];
  const funnelVals = [report.funnel.entered, ...report.funnel.steps.map((s) => s.sent), report.funnel.converted];

  return (
    <div className="stack">
      <div className="data-header">
        <h1>{t("title", { name: report.name })}</h1>
        <Link className="data-link-button data-push-right" to={`/journeys/${report.journeyId}`}>
          {t("back")}
        </Link>
      </div>
      <Form method="get" className="row card" aria-label={t("range.label")}>
        <label>
          {t("range.from")}
          <input type="date" name="from" defaultValue={query.from ?? ""} />
        </label>
        <label>
          {t("range.to")}
          <input type="date" name="to" defaultValue={query.to ?? ""} />
        </label>
        <label>
          {t("range.version")}
          <select name="version" defaultValue={query.version ?? ""}>
            <option value="">{t("range.allVersions")}</option>
            {report.versions.map((v) => (
              <option key={v.id} value={v.id}>
                {t("range.versionN", { n: v.version })}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("range.event")}
          <input type="text" name="event" defaultValue={query.event ?? ""} placeholder={t("range.anyEvent")} maxLength={200} />
        </label>
        <button type="submit">{t("range.apply")}</button>
        <span className="muted">{report.from || report.to ? t("range.counted", { from: report.from ? when(report.from) : "…", to: report.to ? when(report.to) : "…" }) : t("range.all")}</span>
      </Form>

      <Table
        id="funnel"
        title={t("funnel.title")}
        file={file("funnel")}
        header={[t("col.step"), t("col.channel"), t("col.entered"), t("col.sent"), t("col.delivered"), t("col.opened"), t("col.clicked"), t("col.failed"), t("col.converted")]}
        rows={[
          [t("funnel.entered"), null, report.funnel.entered, null, null, null, null, null, null],
          ...report.funnel.steps.map((s): Cell[] => [stepName(s.nodeId), channel(s.channel), s.entered, s.sent, s.delivered, s.opened, s.clicked, s.failed, s.converted]),
          [t("funnel.goal"), null, null, null, null, null, null, null, report.funnel.converted],
        ]}
      >
        <ReportChart horizontal label={t("funnel.title")} categories={funnelCats} series={[{ name: t("col.users"), values: funnelVals }]} height={Math.max(160, 48 * funnelCats.length)} />
      </Table>

      <Table
        id="uplift"
        title={t("uplift.title")}
        file={file("uplift")}
        header={[t("col.group"), t("col.entered"), t("col.converted"), t("col.rate")]}
        rows={[
          [t("uplift.treated"), report.uplift.treated.entered, report.uplift.treated.converted, report.uplift.treated.entered > 0 ? pct(report.uplift.treated.converted / report.uplift.treated.entered) : null],
          [t("uplift.holdout"), report.uplift.holdout.entered, report.uplift.holdout.converted, report.uplift.holdout.entered > 0 ? pct(report.uplift.holdout.converted / report.uplift.holdout.entered) : null],
        ]}
      >
        <p data-testid="report-uplift-verdict">
          {up
            ? t(up.significant ? "uplift.significant" : "uplift.notYet", { difference: pts(up.difference), low: pts(up.interval.low), high: pts(up.interval.high), relative: up.relative === null ? "—" : pct(up.relative) })
            : t("uplift.noHoldout")}
        </p>
        <p className="muted">{t("uplift.how")}</p>
      </Table>

      {report.splits.map((s) => (
        <Table
          key={s.nodeId}
          id={`split-${s.nodeId}`}
          title={t("split.title", { name: stepName(s.nodeId) })}
          file={file(`split-${s.nodeId}`)}
          header={[t("col.branch"), t("col.users"), t("col.converted"), t("col.rate"), t("col.difference"), t("col.pValue"), t("col.confidence"), t("col.verdict")]}
          rows={s.branches.map((b): Cell[] => {
            const c = s.comparisons.find((x) => x.output === b.output);
            const test = c?.test ?? null;
            return [
              names.port(s.nodeId, b.output),
              b.users,
              b.converted,
              pct(b.rate),
              test ? pts(test.difference) : null,
              test ? test.pValue.toPrecision(3) : null,
              test ? pct(test.confidence) : null,
              !c ? t("split.reference") : !test ? t("split.noData") : test.significant ? t("split.significant", { against: names.port(s.nodeId, c.against) }) : t("split.notYet"),
            ];
          })}
        />
      ))}

      {report.loss.map((l) => (
        <Table
          key={l.nodeId}
          id={`loss-${l.nodeId}`}
          title={t("loss.title", { name: stepWithChannel(l.nodeId, l.channel) })}
          file={file(`loss-${l.nodeId}`)}
          header={[t("col.stage"), t("col.reason"), t("col.count"), t("col.rate")]}
          rows={[
            ...l.stages.map((s): Cell[] => [stage(s.stage), null, s.n, s.rate === null ? null : pct(s.rate)]),
            ...l.reasons.map((r): Cell[] => [t("loss.lostAt", { stage: stage(r.stage) }), reason(r.reason), r.n, pct(l.stages[0].n > 0 ? r.n / l.stages[0].n : 0)]),
          ]}
        />
      ))}

      <Table
        id="hours"
        title={t("hours.title")}
        file={file("send-hours")}
        header={[t("col.hour"), t("col.sent"), t("col.converted"), t("col.rate")]}
        rows={report.sendHours.rows.filter((r) => r.sent > 0).map((r): Cell[] => [`${String(r.hour).padStart(2, "0")}:00`, r.sent, r.converted, pct(r.sent > 0 ? r.converted / r.sent : 0)])}
      >
        <p data-testid="report-best-hours">
          {report.sendHours.best.length
            ? t("hours.best", { hours: report.sendHours.best.map((b) => `${String(b.hour).padStart(2, "0")}:00 (${pct(b.rate)})`).join(", ") })
            : !anySent
              ? t("empty")
              : !anyConverted
                ? t("hours.noBest")
                : anyEnough
                  ? t("hours.noBestEnough", { min: report.sendHours.minSent })
                  : t("hours.notEnough", { min: report.sendHours.minSent })}
        </p>
        {anySent && (
          <p className="muted" data-testid="report-best-hours-rule">
            {t("hours.rule", { min: report.sendHours.minSent })}
          </p>
        )}
        <ReportChart
          label={t("hours.title")}
          categories={report.sendHours.rows.map((r) => String(r.hour))}
          series={[
            { name: t("col.sent"), values: report.sendHours.rows.map((r) => r.sent) },
            { name: t("col.rate"), kind: "line", percent: true, values: report.sendHours.rows.map((r) => (r.sent > 0 ? r.converted / r.sent : 0)) },
          ]}
        />
      </Table>

      <Table
        id="returns"
        title={t("returns.title")}
        file={file("return-rate")}
        header={[t("col.day"), t("col.messaged"), t("col.returned"), t("col.rate")]}
        rows={report.returns.days.map((d): Cell[] => [t("returns.day", { n: d.day }), report.returns.messaged, d.returned, pct(d.rate)])}
      >
        <p className="muted">{query.event ? t("returns.event", { event: query.event }) : t("returns.any")}</p>
      </Table>

      <Table
        id="versions"
        title={t("versions.title")}
        file={file("versions")}
        header={[t("col.version"), t("col.entered"), t("col.converted"), t("col.rate"), t("col.holdout"), t("col.uplift"), t("col.interval")]}
        rows={report.byVersion.map((v): Cell[] => [
          v.version === null ? v.versionId : t("range.versionN", { n: v.version }),
          num(v.entered),
          num(v.converted),
          pct(v.conversionRate),
          `${v.holdoutConverted}/${v.holdoutEntered}`,
          v.uplift ? pts(v.uplift.difference) : null,
          v.uplift ? `${pts(v.uplift.interval.low)} … ${pts(v.uplift.interval.high)}` : null,
        ])}
      />
    </div>
  );
}
