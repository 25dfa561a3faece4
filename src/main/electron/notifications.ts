import { app, Notification, type BrowserWindow } from 'electron';
import { AttentionTracker } from '../service/attention';
import type { ConsoleService } from '../service';

/** Windows enter by the clock alone (a CA a day nearer its end), so the status is also read this often. */
const RECHECK_MS = 10 * 60_000;

/**
 * Native notifications and the dock/taskbar badge (issue 10): what needs attention is decided in
 * attention.ts (plain Node, tested); this only shows it. Each condition is announced once; the badge
 * counts what still needs attention. Returns the unsubscribe.
 */
export function startNotifications(service: ConsoleService, window: () => BrowserWindow | null): () => void {
  const tracker = new AttentionTracker();
  const show = (status: Awaited<ReturnType<ConsoleService['status']>>): void => {
    const { fresh, count } = tracker.update(status);
    // Linux needs a Unity launcher for a badge; elsewhere it is the dock or taskbar count.
    app.setBadgeCount(count);
    if (!Notification.isSupported()) return;
    for (const item of fresh) {
      const n = new Notification({ title: item.title, body: item.body });
      n.on('click', () => {
        const win = window();
        if (!win) return;
        if (win.isMinimized()) win.restore();
        win.focus();
      });
      n.show();
    }
  };
  const check = (): void => {
    service.status().then(show, (e: unknown) => console.error('mtls-console: notifications:', e));
  };
  const off = service.on('status.changed', show);
  const timer = setInterval(check, RECHECK_MS);
  timer.unref();
  check();
  return () => {
    off();
    clearInterval(timer);
  };
}
