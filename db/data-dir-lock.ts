import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";

/**
 * One process at a time on a PGlite data directory (decision 0725). PGlite is PostgreSQL in this
 * process's memory: a second process opening the same files works on its own copy and its writes
 * are lost (or worse, corrupt the first one's). The lock is a file beside the directory holding the
 * owner's PID, host and process start time; a lock whose process is gone is stale and taken over.
 */

export interface LockOwner {
  pid: number;
  host: string;
  /** Linux: the process's start time in clock ticks since boot (/proc/PID/stat field 22), to tell a reused PID apart. */
  started: string | null;
  command: string;
  since: string;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly lockPath: string,
    readonly owner: LockOwner,
  ) {
    super(
      `The data directory ${dataDir} is in use by another Waypost process (PID ${owner.pid} on ${owner.host}, "${owner.command}", since ${owner.since}). ` +
        `PGlite allows one process at a time: stop that process first, or run this command against PostgreSQL (DATABASE_URL), ` +
        `or manage operators in the running app (Settings → Team). If you are sure no such process runs, delete ${lockPath}.`,
    );
    this.name = "DataDirLockedError";
  }
}

export interface DataDirLock {
  path: string;
  release(): void;
}

function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the process that wrote the lock still runs (same host only; another host's lock is trusted). */
export function ownerAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  const now = startTime(owner.pid);
  return !(owner.started && now && now !== owner.started);
}

function readOwner(path: string): LockOwner | null {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<LockOwner>;
    return typeof parsed.pid === "number" ? (parsed as LockOwner) : null;
  } catch {
    return null;
  }
}

/** Takes the lock for `dataDir` or throws DataDirLockedError naming the process that holds it. */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = `${dataDir.replace(/\/+$/, "")}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    started: startTime(process.pid),
    command: process.argv.slice(1).join(" ").slice(0, 200),
    since: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, JSON.stringify(owner));
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off("exit", release);
        // Only our own lock is removed (a stale-lock takeover may have replaced it).
        if (readOwner(path)?.pid === owner.pid) {
          try {
            unlinkSync(path);
          } catch {
            // already gone
          }
        }
      };
      process.on("exit", release);
      return { path, release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = readOwner(path);
      // An unreadable lock is one being written this instant: treat it as held.
      if (!holder) throw new DataDirLockedError(dataDir, path, { pid: 0, host: "?", started: null, command: "?", since: "?" });
      if (ownerAlive(holder)) throw new DataDirLockedError(dataDir, path, holder);
      try {
        unlinkSync(path);
      } catch {
        // another process took it over first; try again
      }
    }
  }
  throw new DataDirLockedError(dataDir, path, readOwner(path) ?? { pid: 0, host: "?", started: null, command: "?", since: "?" });
}
