import { zodResolver } from '@hookform/resolvers/zod';
import { useEffect, useRef, useState } from 'react';
import { FormProvider, useForm, useWatch } from 'react-hook-form';
import { call } from '../../api';
import { ErrorAlert } from '../../components/ErrorAlert';
import { Progress } from '../../components/Progress';
import { useAction } from '../../lib/useAction';
import { useStatusStore } from '../../stores/status';
import {
  WIZARD_DEFAULTS,
  WIZARD_STEPS,
  addHosts,
  toInitInput,
  wizardSchema,
  type WizardValues,
} from './schema';
import { AlgorithmStep, CaNameStep, GatewayStep, ReviewStep, ServerStep, VaultStep } from './WizardSteps';

/** First run: create the root CA and the gateway's server certificate with `ca.init`. */
export function CaWizard({ keyringNote }: { readonly keyringNote: string | undefined }) {
  const form = useForm<WizardValues>({
    resolver: zodResolver(wizardSchema),
    defaultValues: { ...WIZARD_DEFAULTS, vault: keyringNote ? 'passphrase' : WIZARD_DEFAULTS.vault },
    mode: 'onTouched',
  });
  const [index, setIndex] = useState(0);
  const { pending, run } = useAction();
  const setStatus = useStatusStore((s) => s.setStatus);
  const step = WIZARD_STEPS[index] ?? WIZARD_STEPS[0]!;
  const last = index === WIZARD_STEPS.length - 1;

  const heading = useRef<HTMLHeadingElement>(null);
  const moved = useRef(false);
  // After each step, focus goes to the new step's heading (not the page body), so a screen reader
  // reads where the operator is and Tab continues from there. Not on first render: nothing moved.
  useEffect(() => {
    if (moved.current) heading.current?.focus();
    moved.current = true;
  }, [index]);

  /** A host typed but not added is added now, or refused visibly: never dropped. */
  const takeHostDraft = (): boolean => {
    const draft = form.getValues('hostDraft');
    if (draft.trim() === '') return true;
    const res = addHosts(form.getValues('hosts'), draft);
    if ('error' in res) {
      form.setError('hosts', { message: res.error }, { shouldFocus: false });
      document.getElementById('wizard-host-input')?.focus();
      return false;
    }
    form.setValue('hosts', res.hosts, { shouldDirty: true });
    form.setValue('hostDraft', '');
    return true;
  };

  const next = async () => {
    if (step.id === 'server' && !takeHostDraft()) return;
    if (await form.trigger([...step.fields])) setIndex((i) => Math.min(i + 1, WIZARD_STEPS.length - 1));
  };
  const create = async () => {
    if (!(await form.trigger())) return;
    const status = await run(() => call('ca.init', toInitInput(form.getValues())));
    if (status) setStatus(status);
  };

  const algorithm = useWatch({ control: form.control, name: 'algorithm' });

  return (
    <div className="wizard-page" data-testid="wizard">
      <div className="wizard">
        <header className="wizard-head">
          <div className="brand">
            <span className="brand-mark" aria-hidden="true" />
            mtls-console
          </div>
          <h1>Create your certificate authority</h1>
          <p className="muted">
            A private root CA and the gateway's server certificate. Nothing leaves this machine.
          </p>
        </header>
        <ol className="steps" aria-label="Steps">
          {WIZARD_STEPS.map((s, i) => (
            <li
              key={s.id}
              className={i === index ? 'step step-current' : i < index ? 'step step-done' : 'step'}
              aria-current={i === index ? 'step' : undefined}
            >
              <span className="step-num">{i + 1}</span>
              {s.title}
            </li>
          ))}
        </ol>
        <ErrorAlert />
        <FormProvider {...form}>
          <form
            className="wizard-body"
            data-testid={`wizard-step-${step.id}`}
            onSubmit={(e) => {
              e.preventDefault();
              if (!pending) void (last ? create() : next());
            }}
          >
            <h2 ref={heading} tabIndex={-1} className="step-heading" data-testid="wizard-heading">
              {step.title}
            </h2>
            {step.id === 'algorithm' && <AlgorithmStep />}
            {step.id === 'ca' && <CaNameStep />}
            {step.id === 'server' && <ServerStep />}
            {step.id === 'gateway' && <GatewayStep />}
            {step.id === 'vault' && <VaultStep keyringNote={keyringNote} />}
            {step.id === 'review' && <ReviewStep />}
            {pending ? (
              <Progress
                testId="wizard-progress"
                label={
                  algorithm === 'rsa-4096'
                    ? 'Generating RSA-4096 keys and signing certificates… this takes a few seconds'
                    : 'Generating keys and signing certificates…'
                }
              />
            ) : null}
            <footer className="actions">
              <button
                type="button"
                className="btn"
                data-testid="wizard-back"
                disabled={index === 0 || pending}
                onClick={() => setIndex((i) => Math.max(0, i - 1))}
              >
                Back
              </button>
              {last ? (
                <button
                  type="submit"
                  className="btn btn-primary"
                  data-testid="wizard-create"
                  disabled={pending}
                >
                  {pending ? 'Creating…' : 'Create CA'}
                </button>
              ) : (
                <button type="submit" className="btn btn-primary" data-testid="wizard-next">
                  Next
                </button>
              )}
            </footer>
          </form>
        </FormProvider>
      </div>
    </div>
  );
}
