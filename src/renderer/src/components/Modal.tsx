import { useEffect, useRef, type ReactNode } from 'react';

interface ModalProps {
  readonly title: string;
  readonly onClose?: () => void;
  readonly children: ReactNode;
  readonly wide?: boolean;
  readonly testId?: string;
}

/** A centred dialog over a dimmed backdrop; Escape closes it when `onClose` is given. */
export function Modal({ title, onClose, children, wide, testId }: ModalProps) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>('input, select, textarea, button:not(.btn-icon)');
    first?.focus();
    return () => prev?.focus();
  }, []);
  useEffect(() => {
    if (!onClose) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <div className="backdrop">
      <div
        ref={ref}
        className={wide ? 'modal modal-wide' : 'modal'}
        role="dialog"
        aria-modal="true"
        aria-label={title}
        data-testid={testId}
      >
        <header className="modal-head">
          <h2>{title}</h2>
          {onClose ? (
            <button type="button" className="btn-icon" aria-label="Close" onClick={onClose}>
              ×
            </button>
          ) : null}
        </header>
        <div className="modal-body">{children}</div>
      </div>
    </div>
  );
}
