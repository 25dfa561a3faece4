import { useState } from 'react';
import type { GatewayConfig } from '../../../../shared/model';
import {
  accessRuleSchema,
  decide,
  groupNameSchema,
  policyMethodSchema,
  type AccessRule,
} from '../../../../shared/policy';
import { upstreamTarget } from '../../../../shared/request-target';
import { call } from '../../api';
import { Field } from '../../components/Field';
import { useAction } from '../../lib/useAction';
import { useStatusStore } from '../../stores/status';
import { configureInput, formValues, splitList } from './settingsSchema';

/** A labelled text input whose test id is its id. */
function TextField(props: {
  readonly label: string;
  readonly id: string;
  readonly value: string;
  readonly placeholder?: string;
  readonly onChange: (value: string) => void;
}) {
  return (
    <Field label={props.label} htmlFor={props.id}>
      <input
        id={props.id}
        data-testid={props.id}
        value={props.value}
        placeholder={props.placeholder}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </Field>
  );
}

function nextId(rules: readonly AccessRule[]): string {
  for (let n = rules.length + 1; ; n++) if (!rules.some((r) => r.id === `r${n}`)) return `r${n}`;
}

/** Saves the whole rule list through gateway.configure (one audited transaction, applied live). */
function useSaveRules(config: GatewayConfig) {
  const { pending, run } = useAction();
  const save = async (accessRules: AccessRule[]): Promise<boolean> => {
    const next = await run(() =>
      call('gateway.configure', { ...configureInput(formValues(config)), accessRules }),
    );
    if (!next) return false;
    const { restartNeeded, ...saved } = next;
    void restartNeeded;
    const status = useStatusStore.getState().status;
    if (status)
      useStatusStore.getState().setStatus({ ...status, gateway: { ...status.gateway, config: saved } });
    return true;
  };
  return { pending, save };
}

function AddRuleForm({
  config,
  onSave,
}: {
  readonly config: GatewayConfig;
  readonly onSave: (r: AccessRule) => void;
}) {
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [group, setGroup] = useState('');
  const [methods, setMethods] = useState('GET');
  const [paths, setPaths] = useState('/');
  const [error, setError] = useState<string | null>(null);
  const add = (): void => {
    const parsed = accessRuleSchema.safeParse({
      id: id.trim() === '' ? nextId(config.accessRules) : id.trim(),
      ...(name.trim() !== '' ? { name: name.trim() } : {}),
      ...(group.trim() !== '' ? { group: group.trim() } : {}),
      methods: splitList(methods),
      paths: splitList(paths),
    });
    if (!parsed.success) {
      setError(parsed.error.issues[0]?.message ?? 'invalid rule');
      return;
    }
    if (config.accessRules.some((r) => r.id === parsed.data.id)) {
      setError(`a rule with id ${parsed.data.id} exists`);
      return;
    }
    setError(null);
    onSave(parsed.data);
    setId('');
  };
  return (
    <div className="policy-add" data-testid="policy-add">
      <div className="row-3">
        <TextField
          label="Client name (* allowed)"
          id="policy-name"
          value={name}
          placeholder="agent-*"
          onChange={setName}
        />
        <TextField
          label="or group (OU)"
          id="policy-group"
          value={group}
          placeholder="agents"
          onChange={setGroup}
        />
        <TextField label="Rule id (optional)" id="policy-id" value={id} onChange={setId} />
      </div>
      <div className="row-2">
        <TextField
          label="Methods (comma-separated, * for all)"
          id="policy-methods"
          value={methods}
          onChange={setMethods}
        />
        <TextField label="Path prefixes" id="policy-paths" value={paths} onChange={setPaths} />
      </div>
      {error ? (
        <p className="notice notice-danger" role="alert" data-testid="policy-error">
          {error}
        </p>
      ) : null}
      <button type="button" className="btn" data-testid="policy-add-rule" onClick={add}>
        Add rule
      </button>
    </div>
  );
}

function TestBox({ rules }: { readonly rules: readonly AccessRule[] }) {
  const [name, setName] = useState('');
  const [groups, setGroups] = useState('');
  const [method, setMethod] = useState('GET');
  const [path, setPath] = useState('/');
  const result = ((): string => {
    if (name.trim() === '') return 'Enter a client name to test a request.';
    const m = policyMethodSchema.safeParse(method);
    if (!m.success) return 'Enter a method such as GET.';
    const target = upstreamTarget('', path.trim());
    if (!target.ok) return `The gateway refuses this path with 400 (${target.detail}).`;
    const gs = splitList(groups).filter((g) => groupNameSchema.safeParse(g).success);
    const d = decide(rules, { name: name.trim(), groups: gs }, m.data, target.clientPath);
    if (d.allowed) return d.rule ? `Allowed by rule ${d.rule}.` : 'Allowed: there are no rules.';
    return `Denied (403): ${d.reason}.`;
  })();
  return (
    <div className="policy-test" data-testid="policy-test">
      <h4>Test a request</h4>
      <div className="row-3">
        <TextField label="Client name" id="policy-test-name" value={name} onChange={setName} />
        <TextField label="Groups" id="policy-test-groups" value={groups} onChange={setGroups} />
        <Field label="Method and path" htmlFor="policy-test-path">
          <div className="inline">
            <input
              aria-label="Method"
              className="input-short"
              data-testid="policy-test-method"
              value={method}
              onChange={(e) => setMethod(e.target.value)}
            />
            <input
              id="policy-test-path"
              data-testid="policy-test-path"
              value={path}
              onChange={(e) => setPath(e.target.value)}
            />
          </div>
        </Field>
      </div>
      <p className="mono small" role="status" aria-live="polite" data-testid="policy-test-result">
        {result}
      </p>
    </div>
  );
}

/** Access rules (issue 11 §2): who may call which methods and paths; none means everything. */
export function AccessRulesCard({ config }: { readonly config: GatewayConfig }) {
  const { pending, save } = useSaveRules(config);
  const rules = config.accessRules;
  return (
    <section className="card" data-testid="settings-policy">
      <header className="card-head">
        <h3>Access rules</h3>
      </header>
      <p className="muted small" data-testid="policy-mode">
        {rules.length === 0
          ? 'No rules: every client with a valid certificate may call any method and path.'
          : 'Requests no rule allows are denied with 403 and recorded. Paths are compared after normalisation, on segment boundaries.'}
      </p>
      {rules.length > 0 ? (
        <table className="table" data-testid="policy-rules">
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Who</th>
              <th scope="col">Methods</th>
              <th scope="col">Paths</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rules.map((r) => (
              <tr key={r.id} data-testid={`policy-rule-${r.id}`}>
                <td className="mono">{r.id}</td>
                <td>
                  {[
                    r.name !== undefined ? `name ${r.name}` : '',
                    r.group !== undefined ? `group ${r.group}` : '',
                  ]
                    .filter((s) => s !== '')
                    .join(' and ')}
                </td>
                <td className="mono">{r.methods.join(', ')}</td>
                <td className="mono">{r.paths.join(' ')}</td>
                <td>
                  <button
                    type="button"
                    className="btn btn-small"
                    aria-label={`Remove rule ${r.id}`}
                    disabled={pending}
                    onClick={() => void save(rules.filter((x) => x.id !== r.id))}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <AddRuleForm config={config} onSave={(rule) => void save([...rules, rule])} />
      <TestBox rules={rules} />
    </section>
  );
}
