import { ReactFlowProvider, useReactFlow } from "@xyflow/react";
import { TRPCClientError } from "@trpc/client";
import { useCallback, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useShallow } from "zustand/react/shallow";
import type { UserSnapshot } from "../../nodes/runtime";
import type { JourneyDocument } from "../../workflows/document";
import { canonicalJson } from "../../workflows/hash";
import type { CompileError } from "../../workflows/program";
import type { EditorJourney } from "../lib/journey-list.server";
import { trpc } from "../trpc/client";
import { Canvas } from "./Canvas";
import { parsePayload, type ClipboardPayload } from "./clipboard";
import { CanvasStoreProvider, useCanvas, useCanvasStore } from "./context";
import { JourneySettingsPanel, NodeInspector } from "./inspector/Inspector";
import { Icon } from "./icons";
import { EVENTS_DATALIST, SEGMENTS_DATALIST, TRAITS_DATALIST } from "./inspector/widgets";
import { useLocale } from "./locale";
import { DEFAULT_NODE_SIZE } from "./layout";
import type { CanvasEdge, CanvasNode } from "./model";
import { Palette } from "./Palette";
import { ProblemsPanel, VersionsPanel } from "./panels";
import { SampleUsersProvider } from "./sampleUsers";
import { NodeStatsProvider, StatsBar, type StatsRange } from "./stats";
import { createCanvasStore } from "./store";
import { TestRunPanel } from "./TestRunPanel";
import { MoveUsersDialog } from "./MoveUsersDialog";
import { ReportLink } from "../report/ReportLink";
import type { PolicySettings } from "../../nodes/channels/policies/settings";
import { reapply } from "./merge";
import { backupKey, readBackup, SaveConflict, useAutosave, type Backup, type Draft } from "./useAutosave";
import { transitionAllowed } from "../lib/journey-transitions";

export interface EditorProps {
  journey: EditorJourney;
  workspaceTimezone: string;
  /** The workspace's sending policies, which the test run applies as the engine does. */
  policies?: PolicySettings;
  canEdit: boolean;
  /** Whether the signed-in role may pause / resume (app/lib/permissions.ts). */
  canPause?: boolean;
  canResume?: boolean;
  /** Whether the signed-in role may move users between versions (instances.operate). */
  canMove?: boolean;
  vocabulary: { events: string[]; traits: string[]; segments: Array<{ key: string; name: string }> };
}

type Tab = "inspector" | "settings" | "test" | "versions";

/** Fallback clipboard for the toolbar buttons, where the system clipboard needs a permission. */
const LOCAL_CLIPBOARD = "waypost:clipboard";

const emptyDocument = (name: string): JourneyDocument => ({ schemaVersion: 1, name, settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] }, nodes: [], edges: [] });

function documentOf(journey: EditorJourney): JourneyDocument {
  return journey.draft?.document ?? journey.live?.document ?? emptyDocument(journey.name);
}

function isEditable(journey: EditorJourney, canEdit: boolean): boolean {
  return canEdit && journey.draft !== null && journey.status !== "archived";
}

function isEditableTarget(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return Boolean(el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName)));
}

export function Editor(props: EditorProps) {
  // The document is loaded before the first render, so the server-rendered page already has it.
  const [store] = useState(() => createCanvasStore({ document: documentOf(props.journey), readOnly: !isEditable(props.journey, props.canEdit) }));
  return (
    <CanvasStoreProvider store={store}>
      <ReactFlowProvider>
        <EditorScreen {...props} />
      </ReactFlowProvider>
    </CanvasStoreProvider>
  );
}

function EditorScreen({ journey: initial, workspaceTimezone, policies, canEdit, canPause = false, canResume = false, canMove = false, vocabulary }: EditorProps) {
  const { t } = useTranslation("canvas");
  const locale = useLocale();
  const store = useCanvasStore();
  const flow = useReactFlow<CanvasNode, CanvasEdge>();
  const utils = trpc.useUtils();
  const [journey, setJourney] = useState(initial);
  const [tab, setTab] = useState<Tab>("settings");
  const [showProblems, setShowProblems] = useState(false);
  const [showShortcuts, setShowShortcuts] = useState(false);
  const [toast, setToast] = useState<{ text: string; kind: "ok" | "error" } | null>(null);
  const [restoreOffer, setRestoreOffer] = useState<Backup | null>(null);
  const [publishing, setPublishing] = useState(false);
  /** After a publish, users of older versions may be moved to the new one (admins). */
  const [moveTo, setMoveTo] = useState<number | null>(null);
  const pointer = useRef<{ x: number; y: number } | null>(null);
  const addCount = useRef(0);

  const samples = trpc.journeys.sampleUsers.useQuery(undefined, { staleTime: 60_000 });
  const sampleUsers: UserSnapshot[] = (samples.data ?? []).map((u) => ({ id: u.id, traits: u.traits as Record<string, unknown>, timezone: u.timezone }));
  const saveDraft = trpc.journeys.saveDraft.useMutation();
  const publish = trpc.journeys.publish.useMutation();
  const startEditing = trpc.journeys.startEditing.useMutation();
  const pause = trpc.journeys.pause.useMutation();
  const resume = trpc.journeys.resume.useMutation();

  const autosave = useAutosave({
    store,
    journeyId: journey.id,
    save: async (document, baseRevision) => {
      try {
        return await saveDraft.mutateAsync({ id: journey.id, baseRevision, document });
      } catch (error) {
        if (error instanceof TRPCClientError && error.data?.code === "CONFLICT") throw new SaveConflict(error.message);
        throw error;
      }
    },
    latestDraft: async (): Promise<Draft | null> => (await utils.journeys.get.fetch({ id: journey.id }, { staleTime: 0 })).draft,
  });

  const readOnly = useCanvas((s) => s.readOnly);
  const canUndo = useCanvas((s) => s.past.length > 0);
  const canRedo = useCanvas((s) => s.future.length > 0);
  const problemCount = useCanvas((s) => s.problemList.length);
  const notice = useCanvas((s) => s.notice);
  const selection = useCanvas(useShallow((s) => s.nodes.filter((n) => n.selected).map((n) => n.id)));
  const selectedEdges = useCanvas((s) => s.edges.some((e) => e.selected));
  const structure = useCanvas((s) => s.structure);

  const say = useCallback((text: string, kind: "ok" | "error" = "ok") => setToast({ text, kind }), []);

  /** (Re)loads a journey from the server into the canvas and starts or stops autosave. */
  const show = useCallback(
    (next: EditorJourney) => {
      const editable = isEditable(next, canEdit);
      store.getState().load(documentOf(next), { readOnly: !editable });
      autosave.track(editable ? next.draft : null);
      setJourney(next);
      // Banners come and go with the journey's state; keep the whole journey in view.
      requestAnimationFrame(() => void flow.fitView({ padding: 0.2, maxZoom: 1 }));
    },
    [autosave, canEdit, flow, store],
  );

  useEffect(() => {
    autosave.track(isEditable(initial, canEdit) ? initial.draft : null);
    // Unsaved work from an earlier visit on this device (a crash, a closed tab, a conflict).
    const backup = isEditable(initial, canEdit) ? readBackup(initial.id) : null;
    if (backup && canonicalJson(backup.document) !== canonicalJson(documentOf(initial))) setRestoreOffer(backup);
    // Mount only: later loads go through show().
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // Validation follows edits, a moment after typing stops (the store validated what it opened with).
  const validatedStructure = useRef(structure);
  useEffect(() => {
    if (validatedStructure.current === structure) return;
    const handle = setTimeout(() => {
      validatedStructure.current = structure;
      store.getState().validate();
    }, 150);
    return () => clearTimeout(handle);
  }, [structure, store]);

  useEffect(() => {
    if (selection.length === 1) setTab("inspector");
  }, [selection.length, selection[0]]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (!toast) return;
    const handle = setTimeout(() => setToast(null), 4_000);
    return () => clearTimeout(handle);
  }, [toast]);

  useEffect(() => {
    if (!notice) return;
    const dismiss = () => store.getState().dismissNotice();
    const handle = setTimeout(dismiss, 3_500);
    // The next thing the operator does makes the explanation stale.
    window.addEventListener("pointerdown", dismiss, { once: true });
    return () => {
      clearTimeout(handle);
      window.removeEventListener("pointerdown", dismiss);
    };
  }, [notice, store]);

  useEffect(() => {
    if (problemCount === 0) setShowProblems(false);
  }, [problemCount]);

  const fit = useCallback(() => void flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 }), [flow]);

  const layout = useCallback(() => {
    store.getState().autoLayout();
    requestAnimationFrame(fit);
  }, [fit, store]);

  const addAtCenter = useCallback(
    (type: string) => {
      const pane = document.querySelector(".wp-canvas")?.getBoundingClientRect();
      const center = pane ? flow.screenToFlowPosition({ x: pane.left + pane.width / 2, y: pane.top + pane.height / 3 }) : { x: 0, y: 0 };
      // Successive additions cascade so they never hide each other.
      const shift = (addCount.current++ % 6) * 30;
      store.getState().addNode(type, { x: Math.round(center.x - DEFAULT_NODE_SIZE.width / 2 + shift), y: Math.round(center.y + shift) });
    },
    [flow, store],
  );

  const copy = useCallback((): ClipboardPayload | null => {
    const payload = store.getState().copySelection();
    if (!payload) return null;
    const text = JSON.stringify(payload);
    window.localStorage.setItem(LOCAL_CLIPBOARD, text);
    return payload;
  }, [store]);

  const paste = useCallback(
    (payload: ClipboardPayload | null) => {
      if (!payload || store.getState().readOnly) return;
      const ids = store.getState().paste(payload, pointer.current ?? undefined);
      say(t("clipboard.pasted", { count: ids.length }));
    },
    [say, store, t],
  );

  // System clipboard: Ctrl/Cmd+C, X and V arrive as copy/cut/paste events with clipboard access.
  useEffect(() => {
    const onCopy = (event: ClipboardEvent) => {
      if (isEditableTarget(event.target) || window.getSelection()?.toString()) return;
      const payload = copy();
      if (!payload) return;
      event.clipboardData?.setData("text/plain", JSON.stringify(payload));
      event.preventDefault();
      if (event.type === "cut") store.getState().deleteSelection();
      say(t("clipboard.copied", { count: payload.nodes.length }));
    };
    const onPaste = (event: ClipboardEvent) => {
      if (isEditableTarget(event.target)) return;
      const payload = parsePayload(event.clipboardData?.getData("text/plain")) ?? parsePayload(window.localStorage.getItem(LOCAL_CLIPBOARD));
      if (!payload) return;
      event.preventDefault();
      paste(payload);
    };
    document.addEventListener("copy", onCopy);
    document.addEventListener("cut", onCopy);
    document.addEventListener("paste", onPaste);
    return () => {
      document.removeEventListener("copy", onCopy);
      document.removeEventListener("cut", onCopy);
      document.removeEventListener("paste", onPaste);
    };
  }, [copy, paste, say, store, t]);

  const pasteFromButton = async () => {
    let text: string | null = null;
    try {
      text = await navigator.clipboard.readText();
    } catch {
      // No clipboard permission: the copy made in this browser is still available.
    }
    paste(parsePayload(text) ?? parsePayload(window.localStorage.getItem(LOCAL_CLIPBOARD)));
  };

  const copyFromButton = async () => {
    const payload = copy();
    if (!payload) return;
    try {
      await navigator.clipboard.writeText(JSON.stringify(payload));
    } catch {
      // Kept in this browser's storage; pasting here still works.
    }
    say(t("clipboard.copied", { count: payload.nodes.length }));
  };

  const focusProblem = useCallback(
    (error: CompileError) => {
      const node = error.nodeId ? store.getState().nodes.find((n) => n.id === error.nodeId) : undefined;
      if (!node) {
        setTab("settings");
        return;
      }
      store.getState().select([node.id]);
      setTab("inspector");
      const width = node.measured?.width ?? DEFAULT_NODE_SIZE.width;
      const height = node.measured?.height ?? DEFAULT_NODE_SIZE.height;
      void flow.setCenter(node.position.x + width / 2, node.position.y + height / 2, { zoom: Math.max(flow.getZoom(), 0.9), duration: 300 });
    },
    [flow, store],
  );

  const doPublish = async () => {
    store.getState().validate();
    setPublishing(true);
    try {
      if (!(await autosave.flush())) {
        say(t("publish.saveFirst"), "error");
        return;
      }
      const result = await publish.mutateAsync({ id: journey.id, baseRevision: autosave.baseRevision()! });
      if (!result.ok) {
        store.getState().setStrict(true);
        setShowProblems(true);
        say(t("publish.refused", { count: result.errors.length }), "error");
        return;
      }
      const fresh = await utils.journeys.get.fetch({ id: journey.id }, { staleTime: 0 });
      show(fresh);
      void utils.journeys.versions.invalidate({ id: journey.id });
      setShowProblems(false);
      // Users inside keep their version unless the operator moves them (only asked when a
      // version existed before, so somebody can be inside one).
      if (canMove && result.version > 1) setMoveTo(result.version);
      const [first] = result.warnings;
      say(
        first
          ? t("publish.doneWithWarnings", { version: result.version, count: result.warnings.length, first: first.message[locale] })
          : t("publish.done", { version: result.version }),
      );
    } catch (error) {
      say(error instanceof Error ? error.message : String(error), "error");
    } finally {
      setPublishing(false);
    }
  };

  const doEdit = async () => {
    await startEditing.mutateAsync({ id: journey.id });
    show(await utils.journeys.get.fetch({ id: journey.id }, { staleTime: 0 }));
    say(t("publish.editing"));
  };

  const reload = async () => show(await utils.journeys.get.fetch({ id: journey.id }, { staleTime: 0 }));

  const toggleStatus = async () => {
    try {
      if (journey.status === "live") await pause.mutateAsync({ id: journey.id });
      else await resume.mutateAsync({ id: journey.id });
    } catch {
      // Someone changed the status meanwhile (409) or the role changed (403): show what is true now.
      say(t("permissions:statusRefused"), "error");
    }
    await reload();
  };

  // Keyboard shortcuts (docs/canvas.md). Typing in a field never triggers them.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (isEditableTarget(event.target)) return;
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      const s = store.getState();
      if (mod && key === "z" && !event.shiftKey) s.undo();
      else if (mod && ((key === "z" && event.shiftKey) || key === "y")) s.redo();
      else if (mod && key === "a") s.selectAll();
      else if (mod && key === "d") {
        const payload = s.copySelection();
        if (payload) s.paste(payload);
      } else if (mod && key === "s") void autosave.flush();
      else if (!mod && (event.key === "Delete" || event.key === "Backspace")) s.deleteSelection();
      else if (!mod && !event.altKey && key === "a") layout();
      else if (!mod && !event.altKey && key === "f") fit();
      else if (event.key === "?") setShowShortcuts((v) => !v);
      else if (event.key === "Escape") {
        setShowShortcuts(false);
        s.clearSelection();
      } else return;
      event.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [autosave, fit, layout, store]);

  // Counts show on the published version as it runs, not while a draft is being edited.
  const showStats = readOnly && journey.live !== null;
  const [statsRange, setStatsRange] = useState<StatsRange>({});
  const stats = trpc.journeys.stats.useQuery({ id: journey.id, ...statsRange }, { enabled: showStats, refetchInterval: 15_000 });
  const statsVersions = trpc.journeys.versions.useQuery({ id: journey.id }, { enabled: showStats });

  const status = journey.status;
  const saveState = autosave.state;
  const mod = typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform) ? "⌘" : "Ctrl";

  return (
    <SampleUsersProvider users={sampleUsers}>
      <NodeStatsProvider stats={showStats ? (stats.data?.nodes ?? null) : null}>
        <div className="wp-editor" data-testid="editor" data-readonly={readOnly || undefined}>
          <header className="wp-editor-bar">
            <a href="/journeys" className="wp-back">
              ← {t("editor.back")}
            </a>
            <h1 className="wp-journey-name" data-testid="journey-name">
              <button type="button" className="link" onClick={() => setTab("settings")} title={t("editor.renameHint")}>
                <JourneyName />
              </button>
            </h1>
            <span className={`wp-badge ${status}`} data-testid="journey-status">
              {t(`status.${status}`)}
            </span>
            {journey.live ? <span className="wp-badge version">{t("editor.liveVersion", { n: journey.live.version })}</span> : null}
            {journey.live ? <ReportLink journeyId={journey.id} /> : null}
            {journey.draft && journey.live && !readOnly ? <span className="wp-badge draft">{t("editor.draftOfChanges")}</span> : null}
            <SaveIndicator state={saveState} />
            <div className="wp-toolbar" role="toolbar" aria-label={t("editor.toolbar")}>
              <button type="button" className="icon" disabled={readOnly || !canUndo} onClick={() => store.getState().undo()} aria-label={t("editor.undo")} title={`${t("editor.undo")} (${mod}+Z)`}>
                <Icon name="undo" />
              </button>
              <button type="button" className="icon" disabled={readOnly || !canRedo} onClick={() => store.getState().redo()} aria-label={t("editor.redo")} title={`${t("editor.redo")} (${mod}+Shift+Z)`}>
                <Icon name="redo" />
              </button>
              <button type="button" className="icon" disabled={readOnly} onClick={layout} aria-label={t("editor.layout")} title={`${t("editor.layout")} (A)`} data-testid="layout">
                <Icon name="layout" />
              </button>
              <button type="button" className="icon" onClick={fit} aria-label={t("editor.fit")} title={`${t("editor.fit")} (F)`}>
                <Icon name="fit" />
              </button>
              <button type="button" className="icon" disabled={selection.length === 0} onClick={() => void copyFromButton()} aria-label={t("editor.copy")} title={`${t("editor.copy")} (${mod}+C)`}>
                <Icon name="copy" />
              </button>
              <button type="button" className="icon" disabled={readOnly} onClick={() => void pasteFromButton()} aria-label={t("editor.paste")} title={`${t("editor.paste")} (${mod}+V)`}>
                <Icon name="paste" />
              </button>
              <button
                type="button"
                className="icon"
                disabled={readOnly || (selection.length === 0 && !selectedEdges)}
                onClick={() => store.getState().deleteSelection()}
                aria-label={t("editor.delete")}
                title={`${t("editor.delete")} (Delete)`}
              >
                <Icon name="trash" />
              </button>
              <button type="button" className="icon" onClick={() => setShowShortcuts(true)} aria-label={t("shortcuts.title")} title={`${t("shortcuts.title")} (?)`}>
                <Icon name="keyboard" />
              </button>
            </div>
            <button type="button" className={`wp-problem-count${problemCount ? " has" : ""}`} onClick={() => setShowProblems((v) => !v)} aria-expanded={showProblems} data-testid="problem-count">
              {problemCount ? `⚠ ${t("problems.count", { count: problemCount })}` : `✓ ${t("problems.none")}`}
            </button>
            {readOnly ? (
              canEdit && status !== "archived" ? (
                <button type="button" className="primary" onClick={() => void doEdit()} disabled={startEditing.isPending} data-testid="edit">
                  ✎ {t("publish.edit")}
                </button>
              ) : null
            ) : (
              <button type="button" className="primary" onClick={() => void doPublish()} disabled={publishing} data-testid="publish">
                {publishing ? t("publish.publishing") : t("publish.publish")}
              </button>
            )}
            {readOnly && canMove && journey.live && journey.live.version > 1 ? (
              <button type="button" onClick={() => setMoveTo(journey.live!.version)} data-testid="move-users">
                {t("move.open")}
              </button>
            ) : null}
            {(status === "live" && canPause && transitionAllowed("pause", status)) || (status === "paused" && canResume && transitionAllowed("resume", status)) ? (
              <button type="button" onClick={() => void toggleStatus()} disabled={pause.isPending || resume.isPending} data-testid="toggle-status">
                {status === "live" ? t("editor.pause") : t("editor.resume")}
              </button>
            ) : null}
          </header>

          {moveTo !== null ? (
            <MoveUsersDialog
              journeyId={journey.id}
              version={moveTo}
              nodes={store.getState().nodes.map((n) => ({ id: n.id, type: n.data.nodeType, label: n.data.label }))}
              onClose={(message) => {
                setMoveTo(null);
                if (message) say(message);
              }}
            />
          ) : null}

          {saveState.kind === "conflict" ? (
            <div className="wp-banner conflict" role="alert" data-testid="conflict">
              <p>
                {t("conflict.message", {
                  who: saveState.theirs.updatedBy ?? t("conflict.someone"),
                  at: new Date(saveState.theirs.updatedAt).toLocaleTimeString(locale === "zh" ? "zh-CN" : "en-GB"),
                })}
              </p>
              <button
                type="button"
                className="primary"
                data-testid="reapply"
                onClick={() => {
                  const merged = autosave.reapplyMine();
                  if (merged) say(merged.overridden || merged.keptTheirs ? t("conflict.reappliedWithOverlap", { overridden: merged.overridden, kept: merged.keptTheirs }) : t("conflict.reapplied"));
                }}
              >
                {t("conflict.reapply")}
              </button>
              <button type="button" onClick={() => window.confirm(t("conflict.confirmDiscard")) && autosave.takeTheirs()}>
                {t("conflict.takeTheirs")}
              </button>
            </div>
          ) : null}
          {restoreOffer ? (
            <div className="wp-banner" role="alert" data-testid="restore-offer">
              <p>{t("restore.message", { at: new Date(restoreOffer.at).toLocaleString(locale === "zh" ? "zh-CN" : "en-GB") })}</p>
              <button
                type="button"
                className="primary"
                onClick={() => {
                  // Made on top of an older revision, the backup is replayed onto the current draft.
                  store.getState().replaceDocument(reapply(restoreOffer.base, restoreOffer.document, store.getState().document()).document);
                  setRestoreOffer(null);
                }}
              >
                {t("restore.apply")}
              </button>
              <button
                type="button"
                onClick={() => {
                  window.localStorage.removeItem(backupKey(journey.id));
                  setRestoreOffer(null);
                }}
              >
                {t("restore.discard")}
              </button>
            </div>
          ) : null}
          {readOnly && journey.live && status !== "archived" ? (
            <div className="wp-banner info" data-testid="readonly-banner">
              <p>{t("editor.readOnlyLive", { n: journey.live.version })}</p>
            </div>
          ) : null}
          {status === "archived" ? (
            <div className="wp-banner info">
              <p>{t("editor.archived")}</p>
            </div>
          ) : null}

          <div className="wp-editor-body">
            <Palette onAdd={addAtCenter} disabled={readOnly} />
            <div
              className="wp-canvas-wrap"
              onMouseMove={(e) => {
                pointer.current = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
              }}
              onMouseLeave={() => {
                pointer.current = null;
              }}
            >
              <Canvas />
              {showStats && stats.data ? <StatsBar stats={stats.data} range={statsRange} onRange={setStatsRange} versions={statsVersions.data ?? []} /> : null}
              {showProblems ? <ProblemsPanel onFocus={focusProblem} onClose={() => setShowProblems(false)} /> : null}
            </div>
            <aside className="wp-side">
              <nav className="wp-tabs" role="tablist" aria-label={t("editor.panels")}>
                {(["inspector", "settings", "test", "versions"] as const).map((name) => (
                  <button key={name} type="button" role="tab" aria-selected={tab === name} className={tab === name ? "active" : undefined} onClick={() => setTab(name)} data-testid={`tab-${name}`}>
                    {t(`tabs.${name}`)}
                  </button>
                ))}
              </nav>
              <div className="wp-side-body" role="tabpanel">
                {tab === "inspector" ? (
                  selection.length === 1 ? (
                    <NodeInspector key={selection[0]} nodeId={selection[0]} workspaceTimezone={workspaceTimezone} openSettings={() => setTab("settings")} />
                  ) : (
                    <div className="ins-panel">
                      <p className="muted">{selection.length > 1 ? t("inspector.manySelected", { count: selection.length }) : t("inspector.nothingSelected")}</p>
                    </div>
                  )
                ) : null}
                {tab === "settings" ? <JourneySettingsPanel workspaceTimezone={workspaceTimezone} /> : null}
                {tab === "test" ? <TestRunPanel workspaceTimezone={workspaceTimezone} policies={policies} /> : null}
                {tab === "versions" ? (
                  <VersionsPanel
                    journeyId={journey.id}
                    liveVersion={journey.live?.version ?? null}
                    canEdit={canEdit && status !== "archived"}
                    onRestored={(version) => {
                      void reload();
                      say(t("versions.restored", { n: version }));
                    }}
                  />
                ) : null}
              </div>
            </aside>
          </div>

          {notice ? (
            <div className="wp-notice" role="status" data-testid="connection-notice" style={notice.at ? { left: notice.at.x + 12, top: notice.at.y + 12 } : undefined}>
              {t(`connection.${notice.problem}`)}
            </div>
          ) : null}
          {toast ? (
            <div className={`wp-toast ${toast.kind}`} role="status" data-testid="toast">
              {toast.text}
            </div>
          ) : null}
          {showShortcuts ? <ShortcutsDialog mod={mod} onClose={() => setShowShortcuts(false)} /> : null}
          <datalist id={EVENTS_DATALIST}>
            {vocabulary.events.map((e) => (
              <option key={e} value={e} />
            ))}
          </datalist>
          <datalist id={TRAITS_DATALIST}>
            {vocabulary.traits.map((e) => (
              <option key={e} value={e} />
            ))}
          </datalist>
          <datalist id={SEGMENTS_DATALIST}>
            {vocabulary.segments.map((s) => (
              <option key={s.key} value={s.key}>
                {s.name}
              </option>
            ))}
          </datalist>
        </div>
      </NodeStatsProvider>
    </SampleUsersProvider>
  );
}

function JourneyName() {
  return <>{useCanvas((s) => s.name)}</>;
}

function SaveIndicator({ state }: { state: ReturnType<typeof useAutosave>["state"] }) {
  const { t, i18n } = useTranslation("canvas");
  const text =
    state.kind === "saved"
      ? state.at
        ? t("save.savedAt", { at: new Date(state.at).toLocaleTimeString(i18n.language === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" }) })
        : t("save.saved")
      : t(`save.${state.kind}`);
  return (
    <span className={`wp-save ${state.kind}`} data-testid="save-state" data-state={state.kind} role="status" aria-live="polite">
      {text}
    </span>
  );
}

function ShortcutsDialog({ mod, onClose }: { mod: string; onClose(): void }) {
  const { t } = useTranslation("canvas");
  const rows: Array<[string, string]> = [
    [`${mod}+Z`, t("shortcuts.undo")],
    [`${mod}+Shift+Z / ${mod}+Y`, t("shortcuts.redo")],
    [`${mod}+C / ${mod}+X / ${mod}+V`, t("shortcuts.clipboard")],
    [`${mod}+D`, t("shortcuts.duplicate")],
    [`${mod}+A`, t("shortcuts.selectAll")],
    [`Shift+${t("shortcuts.drag")}`, t("shortcuts.boxSelect")],
    [`${mod}+${t("shortcuts.click")}`, t("shortcuts.addToSelection")],
    ["Delete / Backspace", t("shortcuts.delete")],
    ["A", t("shortcuts.layout")],
    ["F", t("shortcuts.fit")],
    [`${mod}+S`, t("shortcuts.save")],
    ["Esc", t("shortcuts.deselect")],
    ["?", t("shortcuts.help")],
  ];
  return (
    <div className="wp-dialog-backdrop" onClick={onClose}>
      <div className="wp-dialog" role="dialog" aria-modal="true" aria-label={t("shortcuts.title")} onClick={(e) => e.stopPropagation()}>
        <header>
          <h2>{t("shortcuts.title")}</h2>
          <button type="button" className="icon" aria-label={t("problems.close")} onClick={onClose} autoFocus>
            ×
          </button>
        </header>
        <table className="table">
          <tbody>
            {rows.map(([keys, what]) => (
              <tr key={keys}>
                <td>
                  <kbd>{keys}</kbd>
                </td>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
