import { useCallback, useEffect, useRef, useState } from "react";
import type { JourneyDocument } from "../../workflows/document";
import { canonicalJson } from "../../workflows/hash";
import { reapply, type ReapplyResult } from "./merge";
import type { CanvasStore } from "./store";

/**
 * Autosave of the draft with optimistic concurrency. Every save names the revision it was based
 * on; if someone else saved in between, the server refuses and nothing is overwritten. The
 * operator's unsaved document stays in the store and in localStorage until it is saved, so a
 * conflict, a crash or a closed tab loses nothing.
 */

export interface Draft {
  revision: number;
  document: JourneyDocument;
  updatedBy: string | null;
  updatedAt: string;
}

export type SaveState =
  | { kind: "readonly" }
  | { kind: "saved"; at: string | null }
  | { kind: "dirty" }
  | { kind: "saving" }
  | { kind: "error"; message: string }
  | { kind: "conflict"; theirs: Draft };

export interface Backup {
  baseRevision: number;
  base: JourneyDocument;
  document: JourneyDocument;
  at: string;
}

export class SaveConflict extends Error {}

interface Options {
  store: CanvasStore;
  journeyId: string;
  /** Resolves with the new revision; rejects with SaveConflict when the base revision is stale. */
  save(document: JourneyDocument, baseRevision: number): Promise<{ revision: number; updatedAt: string }>;
  /** The current draft on the server (after a conflict). */
  latestDraft(): Promise<Draft | null>;
  delayMs?: number;
}

const RETRY_MS = 5_000;
export const backupKey = (journeyId: string) => `waypost:unsaved:${journeyId}`;

export function readBackup(journeyId: string): Backup | null {
  try {
    const raw = window.localStorage.getItem(backupKey(journeyId));
    return raw ? (JSON.parse(raw) as Backup) : null;
  } catch {
    return null;
  }
}

function writeBackup(journeyId: string, backup: Backup | null) {
  try {
    if (backup) window.localStorage.setItem(backupKey(journeyId), JSON.stringify(backup));
    else window.localStorage.removeItem(backupKey(journeyId));
  } catch {
    // Storage full or disabled: the in-memory document is still there.
  }
}

export function useAutosave({ store, journeyId, save, latestDraft, delayMs = 800 }: Options) {
  const [state, setState] = useState<SaveState>({ kind: "readonly" });
  const base = useRef<{ revision: number; document: JourneyDocument } | null>(null);
  const savedStoreRevision = useRef(0);
  const saving = useRef<Promise<boolean> | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const stateRef = useRef(state);
  stateRef.current = state;
  const saveRef = useRef(save);
  saveRef.current = save;
  const latestRef = useRef(latestDraft);
  latestRef.current = latestDraft;

  const backupNow = useCallback(() => {
    if (!base.current) return;
    writeBackup(journeyId, { baseRevision: base.current.revision, base: base.current.document, document: store.getState().document(), at: new Date().toISOString() });
  }, [journeyId, store]);

  const saveOnce = useCallback(async (): Promise<boolean> => {
    const current = base.current;
    if (!current || stateRef.current.kind === "conflict") return false;
    const storeRevision = store.getState().revision;
    const document = store.getState().document();
    if (canonicalJson(document) === canonicalJson(current.document)) {
      savedStoreRevision.current = storeRevision;
      writeBackup(journeyId, null);
      setState((s) => (s.kind === "saved" ? s : { kind: "saved", at: new Date().toISOString() }));
      return true;
    }
    setState({ kind: "saving" });
    try {
      const saved = await saveRef.current(document, current.revision);
      base.current = { revision: saved.revision, document };
      savedStoreRevision.current = storeRevision;
      if (store.getState().revision === storeRevision) {
        writeBackup(journeyId, null);
        setState({ kind: "saved", at: saved.updatedAt });
      } else {
        setState({ kind: "dirty" });
      }
      return true;
    } catch (error) {
      backupNow();
      if (error instanceof SaveConflict) {
        const theirs = await latestRef.current().catch(() => null);
        if (theirs) {
          setState({ kind: "conflict", theirs });
          return false;
        }
      }
      setState({ kind: "error", message: error instanceof Error ? error.message : String(error) });
      return false;
    }
  }, [backupNow, journeyId, store]);

  /** Saves until the store has nothing newer than the server; false on conflict or error. */
  const flush = useCallback(async (): Promise<boolean> => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
    for (;;) {
      if (saving.current) {
        await saving.current;
        continue;
      }
      if (!base.current) return false;
      if (stateRef.current.kind === "conflict") return false;
      if (store.getState().revision === savedStoreRevision.current && stateRef.current.kind !== "error") return true;
      saving.current = saveOnce();
      const ok = await saving.current;
      saving.current = null;
      if (!ok) return false;
    }
  }, [saveOnce, store]);

  const schedule = useCallback(
    (ms: number) => {
      if (timer.current) clearTimeout(timer.current);
      timer.current = setTimeout(() => {
        timer.current = null;
        void flush().then((ok) => {
          if (!ok && stateRef.current.kind === "error") schedule(RETRY_MS);
        });
      }, ms);
    },
    [flush],
  );

  useEffect(() => {
    const unsubscribe = store.subscribe((s, prev) => {
      if (s.revision === prev.revision || !base.current || s.readOnly) return;
      if (stateRef.current.kind === "conflict") {
        backupNow();
        return;
      }
      setState((current) => (current.kind === "saving" ? current : { kind: "dirty" }));
      schedule(delayMs);
    });
    return () => {
      unsubscribe();
      if (timer.current) clearTimeout(timer.current);
    };
  }, [backupNow, delayMs, schedule, store]);

  useEffect(() => {
    const warn = (event: BeforeUnloadEvent) => {
      const kind = stateRef.current.kind;
      if (kind === "dirty" || kind === "saving" || kind === "conflict" || kind === "error") {
        backupNow();
        event.preventDefault();
      }
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [backupNow]);

  /** Starts tracking a draft just loaded into the store (or stops, for a read-only view). */
  const track = useCallback(
    (draft: { revision: number; document: JourneyDocument; updatedAt: string } | null) => {
      if (timer.current) clearTimeout(timer.current);
      base.current = draft ? { revision: draft.revision, document: draft.document } : null;
      savedStoreRevision.current = store.getState().revision;
      setState(draft ? { kind: "saved", at: draft.updatedAt } : { kind: "readonly" });
    },
    [store],
  );

  /** Their draft plus my changes since my base, then saved on top of their revision. */
  const reapplyMine = useCallback((): ReapplyResult | null => {
    const current = stateRef.current;
    if (current.kind !== "conflict" || !base.current) return null;
    const merged = reapply(base.current.document, store.getState().document(), current.theirs.document);
    base.current = { revision: current.theirs.revision, document: current.theirs.document };
    setState({ kind: "dirty" });
    stateRef.current = { kind: "dirty" };
    store.getState().replaceDocument(merged.document);
    return merged;
  }, [store]);

  /** Their draft replaces mine; my copy is discarded, as the operator chose. */
  const takeTheirs = useCallback(() => {
    const current = stateRef.current;
    if (current.kind !== "conflict") return;
    base.current = null;
    store.getState().load(current.theirs.document);
    track(current.theirs);
    writeBackup(journeyId, null);
  }, [journeyId, store, track]);

  return { state, flush, track, reapplyMine, takeTheirs, baseRevision: () => base.current?.revision ?? null };
}
