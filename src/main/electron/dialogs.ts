import { dialog, type BrowserWindow } from 'electron';
import type { ConsoleDialogs } from '../service';

/**
 * Native dialogs for the service. The renderer never names a path itself: the service accepts an
 * export folder only if it came from here (DESIGN.md §4, "a folder the operator picked").
 */
export function createDialogs(window: () => BrowserWindow | null): ConsoleDialogs {
  return {
    async chooseExportDir() {
      const win = window();
      const opts: Electron.OpenDialogOptions = {
        title: 'Export client bundle to…',
        buttonLabel: 'Export here',
        properties: ['openDirectory', 'createDirectory'],
      };
      const res = win ? await dialog.showOpenDialog(win, opts) : await dialog.showOpenDialog(opts);
      return res.canceled ? null : (res.filePaths[0] ?? null);
    },
    async chooseAuditExportFile(format) {
      const win = window();
      const opts: Electron.SaveDialogOptions = {
        title: 'Export audit log',
        defaultPath: `mtls-console-audit.${format}`,
        filters: [
          format === 'csv'
            ? { name: 'CSV', extensions: ['csv'] }
            : { name: 'JSON Lines', extensions: ['jsonl'] },
        ],
        properties: ['createDirectory', 'showOverwriteConfirmation'],
      };
      const res = win ? await dialog.showSaveDialog(win, opts) : await dialog.showSaveDialog(opts);
      return res.canceled || !res.filePath ? null : res.filePath;
    },
  };
}
