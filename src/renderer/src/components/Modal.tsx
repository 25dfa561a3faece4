import { useEffect, useId, useRef, useSyncExternalStore, type ReactNode } from 'react';
import { useUiStore } from '../stores/ui';
import { ErrorAlert } from './ErrorAlert';

interface ModalProps {
  readonly title: string;
  readonly onClose?: () => void;
  readonly children: ReactNode;
  readonly wide?: boolean;
  readonly testId?: string;
}

/**
 * Open dialogs, innermost last: only the top one answers Tab and Escape (a confirm opened over
 * the issue dialog closes alone). Subscribable, so the Shell can move the error alert into it.
 */
let stack: readonly string[] = [];
const listeners = new Set<() => void>();
function setStack(next: readonly string[]): void {
  stack = next;
  for (const l of listeners) l();
}
function subscribe(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

/** Whether a dialog is open (the Shell then leaves the error alert to it). */
export function useModalOpen(): boolean {
  return useSyncExternalStore(subscribe, () => stack.length > 0);
}

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

function tabbable(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
    (el) => el.tabIndex >= 0 && el.getClientRects().length > 0 && !el.closest('[inert]'),
  );
}

/**
 * Everything outside the dialog becomes `inert` (no focus, no clicks, hidden from screen readers):
 * the siblings of each of its ancestors up to <body>. Returns the undo, which touches only what it
 * set, so a dialog over a dialog restores the first one's state.
 */
function inertOutside(el: HTMLElement): () => void {
  const set: HTMLElement[] = [];
  for (let node: HTMLElement | null = el; node && node !== document.body; node = node.parentElement) {
    const parent: HTMLElement | null = node.parentElement;
    if (!parent) break;
    for (const sib of parent.children) {
      if (sib !== node && sib instanceof HTMLElement && !sib.inert) {
        sib.inert = true;
        set.push(sib);
      }
    }
  }
  return () => {
    for (const s of set.splice(0)) s.inert = false;
  };
}

/**
 * A centred dialog over a dimmed backdrop (WAI-ARIA modal dialog pattern): focus moves in on open,
 * Tab and Shift+Tab cycle inside, the rest of the page is inert, Escape closes it when `onClose` is
 * given, and focus returns to the control that opened it. Errors of what it does show inside it.
 * While the vault-unlock overlay is up, the dialog steps back (inert itself) until it is gone.
 */
export function Modal({ title, onClose, children, wide, testId }: ModalProps) {
  const ref = useRef<HTMLDivElement>(null);
  const id = useId();
  const titleId = `${id}-title`;
  const suspended = useUiStore((s) => s.vaultLocked);
  const top = useSyncExternalStore(subscribe, () => stack[stack.length - 1]);
  const closeRef = useRef(onClose);
  /** Undoes `inertOutside`; the unmount needs it before it hands focus back. */
  const releaseInert = useRef<(() => void) | null>(null);
  useEffect(() => {
    closeRef.current = onClose;
  }, [onClose]);

  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setStack([...stack, id]);
    const dialog = ref.current;
    const first = dialog
      ? (dialog.querySelector<HTMLElement>('input, select, textarea, button:not(.btn-icon)') ??
        tabbable(dialog)[0])
      : undefined;
    first?.focus();
    return () => {
      setStack(stack.filter((x) => x !== id));
      // The page must be live again before it can take focus back (an inert opener refuses it).
      releaseInert.current?.();
      // The opener may have re-rendered away (a row that changed); then focus stays where React left it.
      if (opener?.isConnected) opener.focus();
    };
  }, [id]);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog || suspended) return;
    const release = inertOutside(dialog);
    releaseInert.current = release;
    return release;
  }, [suspended]);

  useEffect(() => {
    if (suspended) return;
    const onKey = (e: KeyboardEvent) => {
      const dialog = ref.current;
      if (!dialog || stack[stack.length - 1] !== id) return;
      if (e.key === 'Escape' && closeRef.current) {
        e.preventDefault();
        e.stopPropagation();
        closeRef.current();
        return;
      }
      if (e.key !== 'Tab') return;
      const items = tabbable(dialog);
      if (items.length === 0) {
        e.preventDefault();
        return;
      }
      const firstItem = items[0]!;
      const lastItem = items[items.length - 1]!;
      const active = document.activeElement;
      const inside = active instanceof Node && dialog.contains(active);
      if (e.shiftKey && (!inside || active === firstItem)) {
        e.preventDefault();
        lastItem.focus();
      } else if (!e.shiftKey && (!inside || active === lastItem)) {
        e.preventDefault();
        firstItem.focus();
      }
    };
    // Capture: the dialog decides before any handler of the page behind it.
    document.addEventListener('keydown', onKey, true);
    return () => document.removeEventListener('keydown', onKey, true);
  }, [id, suspended]);

  return (
    <div className="backdrop" inert={suspended}>
      <div
        ref={ref}
        className={wide ? 'modal modal-wide' : 'modal'}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        data-testid={testId}
      >
        <header className="modal-head">
          <h2 id={titleId}>{title}</h2>
          {onClose ? (
            <button type="button" className="btn-icon" aria-label="Close" onClick={onClose}>
              ×
            </button>
          ) : null}
        </header>
        <div className="modal-body">
          {top === id && !suspended ? <ErrorAlert /> : null}
          {children}
        </div>
      </div>
    </div>
  );
}
