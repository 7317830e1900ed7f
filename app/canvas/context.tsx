import { createContext, useContext, type ReactNode } from "react";
import { useStore } from "zustand";
import type { CanvasActions, CanvasState, CanvasStore } from "./store";

const StoreContext = createContext<CanvasStore | null>(null);

/** One store per open editor, so two journeys (or a test) never share undo history. */
export function CanvasStoreProvider({ children, store }: { children: ReactNode; store: CanvasStore }) {
  return <StoreContext.Provider value={store}>{children}</StoreContext.Provider>;
}

export function useCanvasStore(): CanvasStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error("useCanvas must be used inside <CanvasStoreProvider>");
  return store;
}

export function useCanvas<T>(selector: (state: CanvasState & CanvasActions) => T): T {
  return useStore(useCanvasStore(), selector);
}
