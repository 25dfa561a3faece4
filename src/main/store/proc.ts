import { readFileSync } from 'node:fs';
import os from 'node:os';

/** Who holds a lock or marker file: enough to decide later, from another process, whether it still lives. */
export interface ProcessIdentity {
  readonly pid: number;
  readonly hostname: string;
  /** Linux only: start time in clock ticks since boot, so a recycled pid is not mistaken for the owner. */
  readonly startTime?: string;
}

interface ProcStat {
  readonly state: string;
  readonly startTime: string;
}

/** Parses /proc/<pid>/stat; null when the process does not exist (or /proc is unavailable). */
function readProcStat(pid: number | 'self'): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses, so split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const startTime = rest[19]; // field 22 overall
  if (state === undefined || startTime === undefined) return null;
  return { state, startTime };
}

const selfStat = process.platform === 'linux' ? readProcStat('self') : null;
const hostname = os.hostname();

export function selfIdentity(): ProcessIdentity {
  return selfStat
    ? { pid: process.pid, hostname, startTime: selfStat.startTime }
    : { pid: process.pid, hostname };
}

/**
 * True only when we are certain the owner is gone. Another host's pid cannot be checked, so it is
 * treated as alive (a lock held from another machine is never stolen).
 */
export function isProcessDead(owner: ProcessIdentity): boolean {
  if (owner.hostname !== hostname) return false;
  if (selfStat) {
    const st = readProcStat(owner.pid);
    if (st === null) return true;
    // A SIGKILLed child stays a zombie until its parent reaps it; it holds nothing any more.
    if (st.state === 'Z' || st.state === 'X') return true;
    return owner.startTime !== undefined && owner.startTime !== st.startTime;
  }
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (e) {
    // EPERM means the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
