import { useEffect, useId, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { destinationFields, destinationOf } from "../../nodes/channels/destination";
import { trpc } from "../trpc/client";

type Channel = "push" | "sms" | "email";
type BuiltInProviderId = "fcm" | "aliyun-sms" | "smtp" | "sandbox";
/** A built-in provider, or a custom one an extension added (`getui.push`). */
type ProviderId = BuiltInProviderId | (string & {});

/** A channel provider an extension added (decision 0930): chosen like a built-in, configured as JSON. */
interface CustomProviderView {
  id: string;
  channel: Channel;
  version: string | null;
  label: { en: string; zh: string };
  description: { en: string; zh: string } | null;
  configFields: string[];
  secretFields: string[];
  callbackUrl: string | null;
}
type Issues = Record<string, string>;

const realProvider: Record<Channel, Exclude<BuiltInProviderId, "sandbox">> = { push: "fcm", sms: "aliyun-sms", email: "smtp" };

/** tRPC BAD_REQUEST errors carry { path, message } per field (app/trpc/init.server.ts). */
function issuesOf(error: unknown): Issues {
  const data = (error as { data?: { issues?: { path: string; message: string }[] } } | null)?.data;
  return Object.fromEntries((data?.issues ?? []).map((i) => [i.path, i.message]));
}

function Field({ label, error, hint, children }: { label: string; error?: string; hint?: ReactNode; children: (id: string, describedBy?: string) => ReactNode }) {
  const id = useId();
  const errorId = `${id}-error`;
  return (
    <div className={`ch-field${error ? " ch-field-invalid" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {children(id, error ? errorId : undefined)}
      {hint ? <span className="muted ch-hint">{hint}</span> : null}
      {error ? (
        <span className="ch-field-error" id={errorId} role="alert">
          {error}
        </span>
      ) : null}
    </div>
  );
}

/** A stored secret is never sent back: "set · ••••" and a Replace button instead. */
function SecretField({ label, name, isSet, value, onChange, error, multiline }: { label: string; name: string; isSet: boolean; value: string; onChange: (v: string) => void; error?: string; multiline?: boolean }) {
  const { t } = useTranslation("channels");
  const [replacing, setReplacing] = useState(!isSet);
  useEffect(() => setReplacing(!isSet), [isSet]);
  return (
    <Field label={label} error={error}>
      {(id, describedBy) =>
        replacing ? (
          <span className="ch-secret">
            {multiline ? (
              <textarea id={id} name={name} rows={5} value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={Boolean(error)} aria-describedby={describedBy} spellCheck={false} />
            ) : (
              <input id={id} name={name} type="password" autoComplete="new-password" value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={Boolean(error)} aria-describedby={describedBy} />
            )}
            {isSet ? (
              <button type="button" className="link" onClick={() => (onChange(""), setReplacing(false))}>
                {t("settings.keepSecret")}
              </button>
            ) : null}
          </span>
        ) : (
          <span className="ch-secret" id={id} data-testid={`secret-${name}`}>
            <span className="ch-secret-set">{t("settings.secretSet")}</span>
            <button type="button" onClick={() => setReplacing(true)}>
              {t("settings.replace")}
            </button>
          </span>
        )
      }
    </Field>
  );
}

interface ProviderView {
  channel: Channel;
  provider: ProviderId;
  config: Record<string, unknown>;
  secretsSet: string[];
  updatedAt: Date | string | null;
}

const str = (v: unknown) => (v === undefined || v === null ? "" : String(v));

function ProviderCard({ view, trackingBase, custom }: { view: ProviderView; trackingBase: string; custom: CustomProviderView[] }) {
  const { t, i18n } = useTranslation("channels");
  const utils = trpc.useUtils();
  const channel = view.channel;
  const [provider, setProvider] = useState<ProviderId>(view.provider);
  const customProvider = custom.find((c) => c.id === provider);
  const [configJson, setConfigJson] = useState("{}");
  const [jsonError, setJsonError] = useState<string | undefined>(undefined);
  useEffect(() => setConfigJson(JSON.stringify(view.config ?? {}, null, 2)), [view.config]);
  const providerLabel = (id: string) => {
    const c = custom.find((p) => p.id === id);
    return c ? c.label[i18n.language.startsWith("zh") ? "zh" : "en"] : t(`provider.${id}`);
  };
  const [config, setConfig] = useState<Record<string, string | boolean>>({});
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    const c = view.config;
    setProvider(view.provider);
    setConfig({
      projectId: str(c.projectId),
      androidChannelId: str(c.androidChannelId),
      accessKeyId: str(c.accessKeyId),
      signName: str(c.signName),
      endpoint: str(c.endpoint),
      maxParts: str(c.maxParts),
      host: str(c.host),
      port: str(c.port ?? ""),
      secure: Boolean(c.secure),
      user: str(c.user),
      from: str(c.from),
      trackingBaseUrl: view.provider === "smtp" ? str(c.trackingBaseUrl) : trackingBase,
      unsubscribeMailto: str(c.unsubscribeMailto),
    });
    setSecrets({});
  }, [view, trackingBase]);
  const save = trpc.channels.saveProvider.useMutation({
    onSuccess: async () => {
      setSaved(true);
      setSecrets({});
      await utils.channels.settings.invalidate();
    },
  });
  const issues = issuesOf(save.error);
  const set = (key: string) => (v: string | boolean) => (setSaved(false), setConfig((c) => ({ ...c, [key]: v })));
  const setSecret = (key: string) => (v: string) => (setSaved(false), setSecrets((s) => ({ ...s, [key]: v })));
  const text = (key: string, label: string, options: { type?: string; placeholder?: string; hint?: ReactNode } = {}) => (
    <Field label={label} error={issues[`config.${key}`]} hint={options.hint}>
      {(id, describedBy) => (
        <input
          id={id}
          name={key}
          type={options.type ?? "text"}
          value={String(config[key] ?? "")}
          placeholder={options.placeholder}
          onChange={(e) => set(key)(e.target.value)}
          aria-invalid={Boolean(issues[`config.${key}`])}
          aria-describedby={describedBy}
        />
      )}
    </Field>
  );
  const submit = () => {
    const optional = (v: string | boolean | undefined) => (typeof v === "string" && v.trim() === "" ? undefined : typeof v === "string" ? v.trim() : v);
    const num = (v: string | boolean | undefined) => (typeof v === "string" && v.trim() !== "" ? (Number.isFinite(Number(v)) ? Number(v) : v) : undefined);
    let payload: Record<string, unknown> = {};
    let secretPayload: Record<string, string> = {};
    let serviceAccountJson: string | undefined;
    if (customProvider) {
      try {
        const parsed: unknown = JSON.parse(configJson || "{}");
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
        payload = parsed as Record<string, unknown>;
      } catch {
        setJsonError(t("settings.custom.notJson"));
        return;
      }
      setJsonError(undefined);
      secretPayload = Object.fromEntries(customProvider.secretFields.map((f) => [f, secrets[f] ?? ""]));
    } else if (provider === "fcm") {
      payload = { projectId: optional(config.projectId), androidChannelId: optional(config.androidChannelId) };
      serviceAccountJson = secrets.serviceAccountJson || undefined;
    } else if (provider === "aliyun-sms") {
      payload = { accessKeyId: optional(config.accessKeyId), signName: optional(config.signName), endpoint: optional(config.endpoint), maxParts: num(config.maxParts) };
      secretPayload = { accessKeySecret: secrets.accessKeySecret ?? "" };
    } else if (provider === "smtp") {
      payload = {
        host: optional(config.host),
        port: num(config.port),
        secure: Boolean(config.secure),
        user: optional(config.user),
        from: optional(config.from),
        trackingBaseUrl: optional(config.trackingBaseUrl),
        unsubscribeMailto: optional(config.unsubscribeMailto),
      };
      secretPayload = { pass: secrets.pass ?? "" };
    }
    save.mutate({ channel, provider, config: payload, secrets: secretPayload, serviceAccountJson });
  };
  const stored = view.provider === provider ? view.secretsSet : [];
  // Secrets are bound to their destination (decision 0703): say so before the save drops them.
  const fields = destinationFields[provider] ?? [];
  const destinationChanged =
    stored.length > 0 &&
    fields.length > 0 &&
    destinationOf(provider, Object.fromEntries(fields.map((f) => [f, view.config[f] === undefined ? "" : String(view.config[f])]))) !==
      destinationOf(provider, Object.fromEntries(fields.map((f) => [f, String(config[f] ?? "").trim()])));
  const secretsEntered = Object.values(secrets).some((v) => v.trim() !== "");
  const destinationNotice =
    fields.length > 0 ? (
      <p className={destinationChanged && !secretsEntered ? "notice ch-destination-warning" : "muted ch-hint"} role={destinationChanged ? "status" : undefined} data-testid={`destination-notice-${channel}`}>
        {destinationChanged && !secretsEntered ? t("settings.destinationChanged") : t("settings.destinationBound")}
      </p>
    ) : null;
  return (
    <section className="card ch-provider" data-testid={`provider-${channel}`}>
      <div className="ch-provider-head">
        <h2>{t(`channel.${channel}`)}</h2>
        <span className={`ch-badge ${view.provider === "sandbox" ? "" : "ch-badge-live"}`}>{providerLabel(view.provider)}</span>
        {view.updatedAt ? <span className="muted">{t("settings.updatedAt", { at: new Date(view.updatedAt).toLocaleString(i18n.language) })}</span> : null}
      </div>
      <form
        className="stack"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
      >
        <Field label={t("settings.provider")} error={issues.provider}>
          {(id) => (
            <select id={id} name="provider" value={provider} onChange={(e) => (setSaved(false), setProvider(e.target.value as ProviderId))}>
              <option value="sandbox">{t("provider.sandbox")}</option>
              <option value={realProvider[channel]}>{t(`provider.${realProvider[channel]}`)}</option>
              {custom.map((c) => (
                <option key={c.id} value={c.id}>
                  {providerLabel(c.id)}
                </option>
              ))}
            </select>
          )}
        </Field>
        {provider === "sandbox" ? <p className="muted">{t("settings.sandboxHelp")}</p> : null}
        {customProvider ? (
          <div className="stack" data-testid={`custom-provider-${channel}`}>
            <p className="muted">
              {customProvider.description ? customProvider.description[i18n.language.startsWith("zh") ? "zh" : "en"] : null}{" "}
              {t("settings.custom.fromExtension", { id: customProvider.id, version: customProvider.version ?? "—" })}
            </p>
            <Field label={t("settings.custom.config")} error={jsonError ?? issues.config ?? Object.entries(issues).find(([k]) => k.startsWith("config."))?.[1]} hint={t("settings.custom.configHint", { fields: customProvider.configFields.join(", ") })}>
              {(id, describedBy) => (
                <textarea id={id} name="config" rows={8} className="ch-json" value={configJson} aria-describedby={describedBy} onChange={(e) => (setSaved(false), setConfigJson(e.target.value))} />
              )}
            </Field>
            {Object.entries(issues)
              .filter(([k]) => k.startsWith("config."))
              .map(([k, message]) => (
                <p key={k} className="form-error">
                  <code>{k}</code>: {message}
                </p>
              ))}
            {customProvider.secretFields.map((f) => (
              <SecretField key={f} label={f} name={f} isSet={stored.includes(f)} value={secrets[f] ?? ""} onChange={setSecret(f)} error={issues[`secrets.${f}`]} />
            ))}
            {customProvider.callbackUrl ? (
              <p className="muted">
                {t("settings.custom.callback")} <code data-testid={`custom-callback-${channel}`}>{customProvider.callbackUrl}</code>
              </p>
            ) : null}
          </div>
        ) : null}
        {provider === "fcm" ? (
          <div className="ch-grid">
            <SecretField
              label={t("settings.fcm.serviceAccount")}
              name="serviceAccountJson"
              isSet={stored.includes("privateKey")}
              value={secrets.serviceAccountJson ?? ""}
              onChange={setSecret("serviceAccountJson")}
              error={issues.serviceAccountJson ?? issues["config.projectId"]}
              multiline
            />
            <div className="stack">
              {config.projectId ? (
                <p className="muted">
                  {t("settings.fcm.projectId")}: <code>{String(config.projectId)}</code>
                </p>
              ) : null}
              {text("androidChannelId", t("settings.fcm.androidChannelId"), { hint: t("settings.optional") })}
            </div>
          </div>
        ) : null}
        {provider === "aliyun-sms" ? (
          <div className="ch-grid">
            {text("accessKeyId", t("settings.aliyun.accessKeyId"))}
            <SecretField label={t("settings.aliyun.accessKeySecret")} name="accessKeySecret" isSet={stored.includes("accessKeySecret")} value={secrets.accessKeySecret ?? ""} onChange={setSecret("accessKeySecret")} error={issues["secrets.accessKeySecret"]} />
            {text("signName", t("settings.aliyun.signName"), { placeholder: "路标商城" })}
            {text("endpoint", t("settings.aliyun.endpoint"), { placeholder: "dysmsapi.aliyuncs.com", hint: t("settings.optional") })}
            {text("maxParts", t("settings.aliyun.maxParts"), { type: "number", hint: t("settings.optional") })}
            {destinationNotice}
          </div>
        ) : null}
        {provider === "smtp" ? (
          <div className="ch-grid">
            {text("host", t("settings.smtp.host"), { placeholder: "smtp.example.com" })}
            {text("port", t("settings.smtp.port"), { type: "number", placeholder: "465" })}
            <label className="ch-check">
              <input type="checkbox" name="secure" checked={Boolean(config.secure)} onChange={(e) => set("secure")(e.target.checked)} />
              {t("settings.smtp.secure")}
            </label>
            {destinationNotice}
            {text("user", t("settings.smtp.user"), { hint: t("settings.optional") })}
            <SecretField label={t("settings.smtp.pass")} name="pass" isSet={stored.includes("pass")} value={secrets.pass ?? ""} onChange={setSecret("pass")} error={issues["secrets.pass"]} />
            {text("from", t("settings.smtp.from"), { placeholder: "路标商城 <news@example.com>" })}
            {text("trackingBaseUrl", t("settings.smtp.trackingBaseUrl"), { hint: t("settings.smtp.trackingHint") })}
            {text("unsubscribeMailto", t("settings.smtp.unsubscribeMailto"), { hint: t("settings.optional") })}
          </div>
        ) : null}
        <div className="row">
          <button type="submit" className="primary" disabled={save.isPending}>
            {t("settings.save")}
          </button>
          {saved && !save.error ? (
            <span className="ch-ok" role="status">
              {t("settings.saved")}
            </span>
          ) : null}
        </div>
        {save.error ? (
          <p className="form-error" role="alert">
            {Object.keys(issues).length ? t("settings.fixFields") : save.error.message}
          </p>
        ) : null}
      </form>
      <TestMessage channel={channel} />
    </section>
  );
}

function TestMessage({ channel }: { channel: Channel }) {
  const { t } = useTranslation("channels");
  const [to, setTo] = useState("");
  const [templateCode, setTemplateCode] = useState("");
  const [templateParams, setTemplateParams] = useState("");
  const send = trpc.channels.sendTest.useMutation();
  const issues = issuesOf(send.error);
  const result = send.data;
  return (
    <form
      className="ch-test"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        send.mutate({ channel, to, content: channel === "sms" ? { templateCode, templateParams } : {} });
      }}
    >
      <h3>{t("settings.test.title")}</h3>
      <div className="row">
        <Field label={t(`settings.test.to.${channel}`)} error={issues.to}>
          {(id, describedBy) => <input id={id} name="to" value={to} onChange={(e) => setTo(e.target.value)} aria-invalid={Boolean(issues.to)} aria-describedby={describedBy} />}
        </Field>
        {channel === "sms" ? (
          <>
            <Field label={t("settings.test.templateCode")} error={issues["content.templateCode"]}>
              {(id) => <input id={id} name="templateCode" placeholder="SMS_123456789" value={templateCode} onChange={(e) => setTemplateCode(e.target.value)} />}
            </Field>
            <Field label={t("settings.test.templateParams")} error={issues["content.templateParams"]}>
              {(id) => <input id={id} name="templateParams" placeholder='{"code":"1234"}' value={templateParams} onChange={(e) => setTemplateParams(e.target.value)} />}
            </Field>
          </>
        ) : null}
        <button type="submit" disabled={send.isPending}>
          {send.isPending ? t("settings.test.sending") : t("settings.test.send")}
        </button>
      </div>
      {result ? (
        result.status === "sent" ? (
          <p className="ch-ok" role="status" data-testid={`test-result-${channel}`}>
            {t("settings.test.sent")}{" "}
            <a href={`/messages?by=user&q=%24test`} className="muted">
              {t("settings.test.seeMessages")}
            </a>
          </p>
        ) : (
          <p className="form-error" role="alert" data-testid={`test-result-${channel}`}>
            {t("settings.test.failed", { reason: result.reason ? t(`reason.${result.reason}`) : result.status })}
            {result.providerCode ? (
              <>
                {" "}
                · <code>{result.providerCode}</code>
              </>
            ) : null}
            {result.detail ? <span className="ch-detail">{result.detail}</span> : null}
          </p>
        )
      ) : null}
      {send.error && !Object.keys(issues).length ? (
        <p className="form-error" role="alert">
          {send.error.message}
        </p>
      ) : null}
    </form>
  );
}

type Policy = {
  marketingConsent: Record<Channel, "opt-in" | "opt-out">;
  quietHours: { enabled: boolean; start: string; end: string; appliesTo: ("marketing" | "transactional")[] };
  frequencyCaps: { channel: Channel | "any"; category: "marketing" | "transactional"; limit: number; period: "day" | "week" }[];
  rateLimits: Record<string, { perSecond: number; burst: number }>;
  rateLimitMaxWaitMs: number;
};

const rateProviders = ["fcm", "aliyun-sms", "smtp", "sandbox"] as const;

function PolicyCard({ policy }: { policy: Policy }) {
  const { t } = useTranslation("channels");
  const utils = trpc.useUtils();
  const [draft, setDraft] = useState<Policy>(policy);
  // Rate limits are edited as text so an emptied box means "no limit", not 0.
  const [rates, setRates] = useState<Record<string, { perSecond: string; burst: string }>>({});
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    setDraft(policy);
    setRates(Object.fromEntries(rateProviders.map((p) => [p, { perSecond: str(policy.rateLimits[p]?.perSecond), burst: str(policy.rateLimits[p]?.burst) }])));
  }, [policy]);
  const save = trpc.channels.savePolicy.useMutation({ onSuccess: async () => (setSaved(true), await utils.channels.settings.invalidate()) });
  const issues = issuesOf(save.error);
  const update = (patch: Partial<Policy>) => (setSaved(false), setDraft((d) => ({ ...d, ...patch })));
  const caps = draft.frequencyCaps;
  return (
    <section className="card" data-testid="policy">
      <h2>{t("policy.title")}</h2>
      <form
        className="stack"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          const rateLimits: Record<string, unknown> = {};
          for (const [p, r] of Object.entries(rates)) {
            if (r.perSecond.trim() === "" && r.burst.trim() === "") continue;
            rateLimits[p] = { perSecond: Number(r.perSecond), burst: r.burst.trim() === "" ? Math.max(1, Math.ceil(Number(r.perSecond))) : Number(r.burst) };
          }
          save.mutate({ ...draft, rateLimits });
        }}
      >
        <fieldset className="ch-fieldset">
          <legend>{t("policy.quietHours")}</legend>
          <div className="row">
            <label className="ch-check">
              <input type="checkbox" name="quietHours.enabled" checked={draft.quietHours.enabled} onChange={(e) => update({ quietHours: { ...draft.quietHours, enabled: e.target.checked } })} />
              {t("policy.quietEnabled")}
            </label>
            <Field label={t("policy.quietStart")} error={issues["quietHours.start"]}>
              {(id, d) => <input id={id} name="quietHours.start" value={draft.quietHours.start} onChange={(e) => update({ quietHours: { ...draft.quietHours, start: e.target.value } })} aria-invalid={Boolean(issues["quietHours.start"])} aria-describedby={d} placeholder="21:00" size={6} />}
            </Field>
            <Field label={t("policy.quietEnd")} error={issues["quietHours.end"]}>
              {(id, d) => <input id={id} name="quietHours.end" value={draft.quietHours.end} onChange={(e) => update({ quietHours: { ...draft.quietHours, end: e.target.value } })} aria-invalid={Boolean(issues["quietHours.end"])} aria-describedby={d} placeholder="08:00" size={6} />}
            </Field>
            {(["marketing", "transactional"] as const).map((c) => (
              <label key={c} className="ch-check">
                <input
                  type="checkbox"
                  checked={draft.quietHours.appliesTo.includes(c)}
                  onChange={(e) => update({ quietHours: { ...draft.quietHours, appliesTo: e.target.checked ? [...draft.quietHours.appliesTo, c] : draft.quietHours.appliesTo.filter((x) => x !== c) } })}
                />
                {t(`category.${c}`)}
              </label>
            ))}
          </div>
          <p className="muted">{t("policy.quietHelp")}</p>
        </fieldset>

        <fieldset className="ch-fieldset">
          <legend>{t("policy.frequencyCaps")}</legend>
          {caps.length === 0 ? <p className="muted">{t("policy.noCaps")}</p> : null}
          {caps.map((cap, i) => (
            <div className="row ch-cap" key={i} data-testid="cap-row">
              <select aria-label={t("policy.capChannel")} value={cap.channel} onChange={(e) => update({ frequencyCaps: caps.map((c, j) => (j === i ? { ...c, channel: e.target.value as Policy["frequencyCaps"][number]["channel"] } : c)) })}>
                {(["push", "sms", "email", "any"] as const).map((c) => (
                  <option key={c} value={c}>
                    {c === "any" ? t("policy.anyChannel") : t(`channel.${c}`)}
                  </option>
                ))}
              </select>
              <select aria-label={t("policy.capCategory")} value={cap.category} onChange={(e) => update({ frequencyCaps: caps.map((c, j) => (j === i ? { ...c, category: e.target.value as "marketing" } : c)) })}>
                <option value="marketing">{t("category.marketing")}</option>
                <option value="transactional">{t("category.transactional")}</option>
              </select>
              <span>{t("policy.atMost")}</span>
              <input
                className="ch-num"
                type="number"
                min={0}
                aria-label={t("policy.capLimit")}
                aria-invalid={Boolean(issues[`frequencyCaps.${i}.limit`])}
                value={Number.isFinite(cap.limit) ? cap.limit : ""}
                onChange={(e) => update({ frequencyCaps: caps.map((c, j) => (j === i ? { ...c, limit: e.target.value === "" ? Number.NaN : Number(e.target.value) } : c)) })}
              />
              <select aria-label={t("policy.capPeriod")} value={cap.period} onChange={(e) => update({ frequencyCaps: caps.map((c, j) => (j === i ? { ...c, period: e.target.value as "day" } : c)) })}>
                <option value="day">{t("policy.perDay")}</option>
                <option value="week">{t("policy.perWeek")}</option>
              </select>
              <button type="button" className="link danger" onClick={() => update({ frequencyCaps: caps.filter((_, j) => j !== i) })}>
                {t("policy.remove")}
              </button>
              {issues[`frequencyCaps.${i}.limit`] ? (
                <span className="ch-field-error" role="alert">
                  {t("policy.capLimit")}: {issues[`frequencyCaps.${i}.limit`]}
                </span>
              ) : null}
            </div>
          ))}
          <div>
            <button type="button" onClick={() => update({ frequencyCaps: [...caps, { channel: "push", category: "marketing", limit: 2, period: "day" }] })}>
              {t("policy.addCap")}
            </button>
          </div>
        </fieldset>

        <fieldset className="ch-fieldset">
          <legend>{t("policy.rateLimits")}</legend>
          <table className="table ch-rates">
            <thead>
              <tr>
                <th>{t("settings.provider")}</th>
                <th>{t("policy.perSecond")}</th>
                <th>{t("policy.burst")}</th>
              </tr>
            </thead>
            <tbody>
              {rateProviders.map((p) => (
                <tr key={p}>
                  <td>{t(`provider.${p}`)}</td>
                  <td>
                    <input
                      className="ch-num"
                      type="number"
                      min={0}
                      aria-label={`${t(`provider.${p}`)} ${t("policy.perSecond")}`}
                      aria-invalid={Boolean(issues[`rateLimits.${p}.perSecond`])}
                      placeholder={t("policy.unlimited")}
                      value={rates[p]?.perSecond ?? ""}
                      onChange={(e) => (setSaved(false), setRates((r) => ({ ...r, [p]: { ...(r[p] ?? { burst: "" }), perSecond: e.target.value } })))}
                    />
                    {issues[`rateLimits.${p}.perSecond`] ? <span className="ch-field-error" role="alert">{issues[`rateLimits.${p}.perSecond`]}</span> : null}
                  </td>
                  <td>
                    <input
                      className="ch-num"
                      type="number"
                      min={1}
                      aria-label={`${t(`provider.${p}`)} ${t("policy.burst")}`}
                      aria-invalid={Boolean(issues[`rateLimits.${p}.burst`])}
                      value={rates[p]?.burst ?? ""}
                      onChange={(e) => (setSaved(false), setRates((r) => ({ ...r, [p]: { ...(r[p] ?? { perSecond: "" }), burst: e.target.value } })))}
                    />
                    {issues[`rateLimits.${p}.burst`] ? <span className="ch-field-error" role="alert">{issues[`rateLimits.${p}.burst`]}</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </fieldset>

        <fieldset className="ch-fieldset">
          <legend>{t("policy.consent")}</legend>
          <div className="row">
            {(["push", "sms", "email"] as const).map((c) => (
              <Field key={c} label={t(`channel.${c}`)}>
                {(id) => (
                  <select id={id} value={draft.marketingConsent[c]} onChange={(e) => update({ marketingConsent: { ...draft.marketingConsent, [c]: e.target.value as "opt-in" } })}>
                    <option value="opt-in">{t("policy.optIn")}</option>
                    <option value="opt-out">{t("policy.optOut")}</option>
                  </select>
                )}
              </Field>
            ))}
          </div>
        </fieldset>

        <div className="row">
          <button type="submit" className="primary" disabled={save.isPending}>
            {t("policy.save")}
          </button>
          {saved && !save.error ? (
            <span className="ch-ok" role="status">
              {t("settings.saved")}
            </span>
          ) : null}
        </div>
        {save.error ? (
          <div className="form-error" role="alert">
            {Object.keys(issues).length ? (
              <ul className="ch-issue-list">
                {Object.entries(issues).map(([path, message]) => (
                  <li key={path}>
                    <code>{path}</code> {message}
                  </li>
                ))}
              </ul>
            ) : (
              save.error.message
            )}
          </div>
        ) : null}
      </form>
    </section>
  );
}

function Callbacks({ urls, origin }: { urls: { smsReport: string; smsReplies: string; emailBounce: string }; origin?: string }) {
  const { t } = useTranslation("channels");
  const utils = trpc.useUtils();
  const rotate = trpc.channels.rotateCallbackTokens.useMutation({ onSuccess: () => utils.channels.settings.invalidate() });
  return (
    <section className="card">
      <h2>{t("settings.callbacks.title")}</h2>
      <p className="muted">{t("settings.callbacks.help")}</p>
      <dl className="ch-callbacks">
        <dt>{t("settings.callbacks.smsReport")}</dt>
        <dd>
          <code>{urls.smsReport}</code>
        </dd>
        <dt>{t("settings.callbacks.smsReplies")}</dt>
        <dd>
          <code>{urls.smsReplies}</code>
        </dd>
        <dt>{t("settings.callbacks.emailBounce")}</dt>
        <dd>
          <code>{urls.emailBounce}</code>
        </dd>
      </dl>
      <div className="row">
        <button
          type="button"
          disabled={rotate.isPending}
          onClick={() => {
            if (window.confirm(t("settings.callbacks.rotateConfirm"))) rotate.mutate(origin ? { origin } : {});
          }}
        >
          {t("settings.callbacks.rotate")}
        </button>
        {rotate.isSuccess ? (
          <span className="ch-ok" role="status">
            {t("settings.callbacks.rotated")}
          </span>
        ) : null}
      </div>
      <p className="muted ch-hint">{t("settings.callbacks.rotateHelp")}</p>
      {rotate.error ? (
        <p className="form-error" role="alert">
          {rotate.error.message}
        </p>
      ) : null}
    </section>
  );
}

export function ChannelSettings() {
  const { t } = useTranslation("channels");
  const [origin, setOrigin] = useState<string | undefined>(undefined);
  useEffect(() => setOrigin(window.location.origin), []);
  const settings = trpc.channels.settings.useQuery(origin ? { origin } : undefined, { enabled: origin !== undefined });
  if (settings.error) {
    return (
      <p className="form-error" role="alert">
        {settings.error.message}
      </p>
    );
  }
  if (!settings.data) return <p className="muted">{t("loading")}</p>;
  return (
    <div className="ch-settings">
      {settings.data.providers.map((view) => (
        <ProviderCard
          key={view.channel}
          view={view as ProviderView}
          trackingBase={settings.data.callbacks.trackingBase}
          custom={(settings.data.customProviders as CustomProviderView[]).filter((c) => c.channel === view.channel)}
        />
      ))}
      <PolicyCard policy={settings.data.policy as Policy} />
      <Callbacks urls={settings.data.callbacks} origin={origin} />
    </div>
  );
}
