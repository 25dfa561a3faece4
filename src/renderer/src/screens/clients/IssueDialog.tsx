import { zodResolver } from '@hookform/resolvers/zod';
import { useState } from 'react';
import { useForm, useWatch } from 'react-hook-form';
import type { IssueResult } from '../../../../shared/model';
import { call } from '../../api';
import { CopyField } from '../../components/CopyField';
import { Field } from '../../components/Field';
import { Modal } from '../../components/Modal';
import { Progress } from '../../components/Progress';
import { formatDateTime } from '../../lib/format';
import { useAction } from '../../lib/useAction';
import { useUiStore } from '../../stores/ui';
import {
  ISSUE_DEFAULTS,
  TTL_PRESETS,
  issueFormSchema,
  toIssueInput,
  type IssueFormValues,
} from './issueSchema';

interface IssueDialogProps {
  readonly onClose: () => void;
  readonly onIssued: (result: IssueResult) => void;
}

/** Issue a client certificate and write its bundle to a folder the operator picks. */
export function IssueDialog({ onClose, onIssued }: IssueDialogProps) {
  const form = useForm<IssueFormValues>({
    resolver: zodResolver(issueFormSchema),
    defaultValues: ISSUE_DEFAULTS,
    mode: 'onTouched',
  });
  const { register, formState, setValue, control, handleSubmit } = form;
  const issue = useAction();
  const chooser = useAction();
  const [result, setResult] = useState<IssueResult | null>(null);
  const [exists, setExists] = useState(false);
  const ttl = useWatch({ control, name: 'ttl' });
  const outDir = useWatch({ control, name: 'outDir' });

  const chooseDir = async () => {
    const dir = await chooser.run(() => call('clients.chooseExportDir', {}));
    if (typeof dir === 'string') setValue('outDir', dir, { shouldValidate: true });
  };
  const submit = handleSubmit(async (values) => {
    const r = await issue.run(() => call('clients.issue', toIssueInput(values)));
    if (r) {
      setResult(r);
      onIssued(r);
    } else if (useUiStore.getState().error?.code === 'ALREADY_EXISTS') {
      setExists(true);
    }
  });

  if (result) {
    const files: [string, string | undefined][] = [
      ['Certificate', result.files.cert],
      ['Private key (0600)', result.files.key],
      ['CA certificate', result.files.ca],
      ['PKCS#12 bundle', result.files.p12],
    ];
    return (
      <Modal title={`Issued ${result.name}`} onClose={onClose} wide testId="issue-dialog">
        <div className="notice notice-ok" data-testid="issue-done">
          Serial <span className="mono">{result.serial}</span>, valid until {formatDateTime(result.notAfter)}.
        </div>
        <h4>Files written</h4>
        <ul className="file-list" data-testid="issue-files">
          {files
            .filter((f): f is [string, string] => f[1] !== undefined)
            .map(([role, path]) => (
              <li key={path}>
                <span className="file-role">{role}</span>
                <code>{path}</code>
              </li>
            ))}
        </ul>
        <h4>Try it</h4>
        <CopyField value={result.curl} testId="issue-curl" />
        <div className="actions">
          <button type="button" className="btn btn-primary" data-testid="issue-close" onClick={onClose}>
            Done
          </button>
        </div>
      </Modal>
    );
  }

  return (
    <Modal
      title="Issue a client certificate"
      onClose={issue.pending ? undefined : onClose}
      wide
      testId="issue-dialog"
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!issue.pending) void submit(e);
        }}
      >
        <Field
          label="Name (certificate CN)"
          htmlFor="issue-name"
          error={formState.errors.name?.message}
          hint="One per operator or agent, e.g. alice@operators. Letters, digits and . _ @ -"
        >
          <input id="issue-name" data-testid="issue-name" autoComplete="off" {...register('name')} />
        </Field>
        <Field
          label="Groups (optional)"
          htmlFor="issue-groups"
          error={formState.errors.groups?.message}
          hint="Written into the certificate as OUs; access rules can match them, e.g. agents"
        >
          <input id="issue-groups" data-testid="issue-groups" autoComplete="off" {...register('groups')} />
        </Field>
        <Field
          label="Lifetime"
          htmlFor="issue-ttl-custom"
          error={formState.errors.ttl?.message}
          hint="At most 90 days. Custom: 12h, 3d, 1h30m…"
        >
          <div className="inline">
            <div className="segmented" role="group" aria-label="Lifetime presets">
              {TTL_PRESETS.map((p) => (
                <button
                  key={p}
                  type="button"
                  className={ttl === p ? 'seg seg-on' : 'seg'}
                  data-testid={`issue-ttl-${p}`}
                  onClick={() => setValue('ttl', p, { shouldValidate: true })}
                >
                  {p}
                </button>
              ))}
            </div>
            <input
              id="issue-ttl-custom"
              data-testid="issue-ttl-custom"
              className="input-short"
              autoComplete="off"
              {...register('ttl')}
            />
          </div>
        </Field>
        <div className="row-2">
          <Field
            label=".p12 password (optional)"
            htmlFor="issue-p12-password"
            error={formState.errors.p12Password?.message}
            hint="Leave empty to skip the .p12 bundle."
          >
            <input
              id="issue-p12-password"
              data-testid="issue-p12-password"
              type="password"
              autoComplete="new-password"
              {...register('p12Password')}
            />
          </Field>
          <Field
            label="Confirm .p12 password"
            htmlFor="issue-p12-confirm"
            error={formState.errors.p12Confirm?.message}
          >
            <input
              id="issue-p12-confirm"
              data-testid="issue-p12-confirm"
              type="password"
              autoComplete="new-password"
              {...register('p12Confirm')}
            />
          </Field>
        </div>
        <Field label="Export folder" error={formState.errors.outDir?.message}>
          <div className="inline">
            <button
              type="button"
              className="btn"
              data-testid="issue-choose-dir"
              disabled={chooser.pending}
              onClick={() => void chooseDir()}
            >
              Choose folder…
            </button>
            <code className={outDir ? 'path' : 'path muted'} data-testid="issue-dir">
              {outDir || 'none chosen'}
            </code>
          </div>
        </Field>
        {exists ? (
          <label className="checkbox notice notice-warn">
            <input type="checkbox" data-testid="issue-force" {...register('force')} />
            Files for this name already exist in that folder. Overwrite them.
          </label>
        ) : null}
        {issue.pending ? (
          <Progress testId="issue-progress" label="Generating key, signing and writing files…" />
        ) : null}
        <div className="actions">
          <button type="button" className="btn" onClick={onClose} disabled={issue.pending}>
            Cancel
          </button>
          <button
            type="submit"
            className="btn btn-primary"
            data-testid="issue-submit"
            disabled={issue.pending}
          >
            {issue.pending ? 'Issuing…' : 'Issue certificate'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
