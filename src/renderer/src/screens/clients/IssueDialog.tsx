import { zodResolver } from '@hookform/resolvers/zod';
import { useMemo, useRef, useState, type ChangeEvent } from 'react';
import { useForm, useWatch } from 'react-hook-form';
import type { ClientIssueResult, ClientRecord } from '../../../../shared/model';
import { CallError, call } from '../../api';
import { CopyField } from '../../components/CopyField';
import { Field } from '../../components/Field';
import { Modal } from '../../components/Modal';
import { Progress } from '../../components/Progress';
import { formatDateTime } from '../../lib/format';
import { statusAt } from '../../lib/countdown';
import { useAction } from '../../lib/useAction';
import { useNow } from '../../lib/useNow';
import { useClientsStore } from '../../stores/clients';
import {
  ISSUE_DEFAULTS,
  TTL_PRESETS,
  csrFileProblem,
  issueFormSchema,
  toIssueInput,
  type IssueFormValues,
  type KeySource,
} from './issueSchema';
import './clients.css';

interface IssueDialogProps {
  readonly onClose: () => void;
  readonly onIssued: (result: ClientIssueResult) => void;
  /** Opened from a row's "Re-issue": the name (and its groups) of the certificate to replace. */
  readonly reissueOf?: ClientRecord;
}

/** Files in the folder that are not this name's bundle: main's list of paths, without CLI wording. */
function conflictPaths(message: string): string {
  return message
    .replace(/\s*\(use --force\)\s*$/, '')
    .replace(/^refusing to overwrite\s*/, '')
    .replace(/: it is .*$/, '');
}

const KEY_SOURCES: readonly { readonly id: KeySource; readonly label: string }[] = [
  { id: 'generate', label: 'Generate a key here' },
  { id: 'csr', label: 'I have a CSR' },
];

/**
 * Issue a client certificate and write its bundle to a folder the operator picks; or sign a CSR
 * (the key never touches the console); or, for a name that exists, re-issue it.
 */
export function IssueDialog({ onClose, onIssued, reissueOf }: IssueDialogProps) {
  const form = useForm<IssueFormValues>({
    resolver: zodResolver(issueFormSchema),
    defaultValues: {
      ...ISSUE_DEFAULTS,
      ...(reissueOf
        ? { name: reissueOf.name, groups: (reissueOf.groups ?? []).join(', '), reissue: true }
        : {}),
    },
    mode: 'onTouched',
  });
  const { register, formState, setValue, control, handleSubmit } = form;
  const issue = useAction();
  const chooser = useAction();
  const [result, setResult] = useState<ClientIssueResult | null>(null);
  /** Main refused to overwrite these files (not this name's bundle, or another CA's ca.crt). */
  const [conflict, setConflict] = useState<string | null>(null);
  const [csrFileError, setCsrFileError] = useState<string | null>(null);
  const [csrFileName, setCsrFileName] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const now = useNow();
  const ttl = useWatch({ control, name: 'ttl' });
  const outDir = useWatch({ control, name: 'outDir' });
  const name = useWatch({ control, name: 'name' });
  const keySource = useWatch({ control, name: 'keySource' });
  const renewable = useWatch({ control, name: 'renewable' });
  const clients = useClientsStore((s) => s.clients);

  // The name's certificates, so an existing name is re-issued rather than duplicated.
  const existing = useMemo(() => clients.filter((c) => c.name === name.trim()), [clients, name]);
  const valid = existing.filter((c) => {
    const s = statusAt(c, now);
    return s === 'active' || s === 'superseded';
  });
  const isReissue = existing.length > 0;

  const chooseDir = async () => {
    const dir = await chooser.run(() => call('clients.chooseExportDir', {}));
    if (typeof dir === 'string') {
      setValue('outDir', dir, { shouldValidate: true });
      setConflict(null);
      setValue('force', false);
    }
  };

  const readCsrFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (!file) return;
    setCsrFileName(file.name);
    const problem = csrFileProblem(file);
    if (problem) {
      setCsrFileError(problem);
      return;
    }
    const text = await file.text();
    if (!text.includes('-----BEGIN')) {
      setCsrFileError(
        `${file.name} is not a PEM file; convert a DER request with: openssl req -inform DER -in FILE -out FILE.pem`,
      );
      return;
    }
    setCsrFileError(null);
    setValue('csrPem', text, { shouldValidate: true });
  };

  const submit = handleSubmit(async (values) => {
    const input = toIssueInput({
      ...values,
      reissue: isReissue,
      revokePrevious: isReissue && values.revokePrevious,
    });
    const r = await issue.run(async () => {
      try {
        return await call('clients.issue', input);
      } catch (err) {
        // Not an error to report: the dialog asks whether to replace those files.
        if (err instanceof CallError && err.code === 'ALREADY_EXISTS') return conflictPaths(err.message);
        throw err;
      }
    });
    if (typeof r === 'string') setConflict(r);
    else if (r) {
      setResult(r);
      onIssued(r);
    }
  });

  if (result) {
    const files: [string, string | undefined][] = [
      ['Certificate', result.files.cert],
      ['Private key (0600)', result.files.key],
      ['CA certificate', result.files.ca],
      ['PKCS#12 bundle', result.files.p12],
    ];
    const revoked = result.replaced?.filter((r) => r.revoked).length ?? 0;
    return (
      <Modal title={`Issued ${result.name}`} onClose={onClose} wide testId="issue-dialog">
        <div className="notice notice-ok" data-testid="issue-done" role="status">
          Serial <span className="mono">{result.serial}</span>, valid until {formatDateTime(result.notAfter)}.
          {result.replaced && result.replaced.length > 0
            ? ` Replaces ${result.replaced.length} earlier certificate${result.replaced.length === 1 ? '' : 's'}${
                revoked > 0 ? `, revoked as superseded` : ', which stay valid until they expire'
              }.`
            : ''}
        </div>
        {result.csrKeyType ? (
          <p className="notice" data-testid="issue-no-key">
            No private key in this bundle: the {result.csrKeyType} key stays where the CSR was made.
          </p>
        ) : null}
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

  const trimmed = name.trim();
  const submitLabel = issue.pending
    ? 'Issuing…'
    : isReissue
      ? `Re-issue ${trimmed}`
      : keySource === 'csr'
        ? 'Sign the CSR'
        : 'Issue certificate';

  return (
    <Modal
      title={reissueOf ? `Re-issue ${reissueOf.name}` : 'Issue a client certificate'}
      onClose={issue.pending ? undefined : onClose}
      wide
      testId="issue-dialog"
    >
      <form
        noValidate
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
          <input
            id="issue-name"
            data-testid="issue-name"
            autoComplete="off"
            readOnly={reissueOf !== undefined}
            {...register('name')}
          />
        </Field>
        {isReissue ? (
          <div className="notice notice-warn issue-reissue" data-testid="issue-reissue" role="status">
            <p>
              <strong>{trimmed}</strong> already has{' '}
              {valid.length === 0
                ? 'certificates, none of them valid now'
                : `${valid.length} valid certificate${valid.length === 1 ? '' : 's'} (serial ${valid
                    .map((c) => c.serial)
                    .join(', ')})`}
              . This issues a new certificate for the same name; the earlier one shows as superseded.
            </p>
            {valid.length > 0 ? (
              <label className="checkbox">
                <input type="checkbox" data-testid="issue-revoke-previous" {...register('revokePrevious')} />
                Revoke the previous certificate (superseded)
              </label>
            ) : null}
          </div>
        ) : null}
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
                  aria-pressed={ttl === p}
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
        <fieldset className="issue-fieldset">
          <legend>Renewal</legend>
          <label className="checkbox">
            <input type="checkbox" data-testid="issue-renewable" {...register('renewable')} />
            Its holder may renew it over the gateway (same key, same lifetime)
          </label>
          {renewable ? (
            <Field
              label="Maximum renewal lifetime"
              htmlFor="issue-renew-max"
              error={formState.errors.renewMax?.message}
              hint="How long renewals may keep this certificate going from now, e.g. 90d; then it needs a re-issue."
            >
              <input
                id="issue-renew-max"
                data-testid="issue-renew-max"
                className="input-short"
                autoComplete="off"
                {...register('renewMax')}
              />
            </Field>
          ) : null}
        </fieldset>
        <fieldset className="issue-fieldset">
          <legend>Key</legend>
          <div className="segmented" role="group" aria-label="Key">
            {KEY_SOURCES.map((k) => (
              <button
                key={k.id}
                type="button"
                aria-pressed={keySource === k.id}
                className={keySource === k.id ? 'seg seg-on' : 'seg'}
                data-testid={`issue-key-${k.id}`}
                onClick={() => setValue('keySource', k.id, { shouldValidate: formState.isSubmitted })}
              >
                {k.label}
              </button>
            ))}
          </div>
          {keySource === 'csr' ? (
            <>
              <Field
                label="Certificate signing request (PEM)"
                htmlFor="issue-csr"
                error={csrFileError ?? formState.errors.csrPem?.message}
                hint="Its subject and extensions are ignored: the certificate gets the name above. The bundle will hold no key."
              >
                <textarea
                  id="issue-csr"
                  data-testid="issue-csr"
                  className="mono issue-csr"
                  rows={5}
                  spellCheck={false}
                  placeholder="-----BEGIN CERTIFICATE REQUEST-----"
                  {...register('csrPem')}
                />
              </Field>
              <div className="inline">
                <button
                  type="button"
                  className="btn"
                  data-testid="issue-csr-choose"
                  onClick={() => fileInput.current?.click()}
                >
                  Choose CSR file…
                </button>
                <input
                  ref={fileInput}
                  data-testid="issue-csr-file"
                  hidden
                  tabIndex={-1}
                  aria-hidden="true"
                  type="file"
                  accept=".csr,.pem,.req,application/pkcs10"
                  onChange={(e) => void readCsrFile(e)}
                />
                {csrFileName ? <code className="path">{csrFileName}</code> : null}
              </div>
            </>
          ) : (
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
          )}
        </fieldset>
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
        {conflict !== null ? (
          <div className="notice notice-warn" data-testid="issue-conflict" role="alert">
            <p>
              That folder already has files that are not {trimmed}&rsquo;s current bundle:{' '}
              <code>{conflict}</code>. Choose another folder, or replace them.
            </p>
            <label className="checkbox">
              <input type="checkbox" data-testid="issue-force" {...register('force')} />
              Replace these files
            </label>
          </div>
        ) : null}
        {issue.pending ? (
          <Progress
            testId="issue-progress"
            label={
              keySource === 'csr'
                ? 'Signing and writing files…'
                : 'Generating key, signing and writing files…'
            }
          />
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
            {submitLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}
