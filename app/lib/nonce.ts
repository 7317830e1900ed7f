import { createContext, useContext } from "react";

/**
 * The per-request Content-Security-Policy nonce (cli/server.ts makes it; app/entry.server.tsx
 * provides it). Only the server render knows it: browsers hide nonce attributes from scripts, so
 * on the client it is empty and Remix's inline scripts are not re-executed anyway.
 */
export const NonceContext = createContext<string | undefined>(undefined);

export function useNonce(): string | undefined {
  return useContext(NonceContext);
}
