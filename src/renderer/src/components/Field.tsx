import type { ReactNode } from 'react';

interface FieldProps {
  readonly label: string;
  readonly htmlFor?: string;
  readonly error?: string;
  readonly hint?: ReactNode;
  readonly children: ReactNode;
}

/** A labelled form row with its validation message. */
export function Field({ label, htmlFor, error, hint, children }: FieldProps) {
  return (
    <div className={error ? 'field field-invalid' : 'field'}>
      <label htmlFor={htmlFor}>{label}</label>
      {children}
      {error ? (
        <span className="field-error" role="alert">
          {error}
        </span>
      ) : hint ? (
        <span className="field-hint">{hint}</span>
      ) : null}
    </div>
  );
}
