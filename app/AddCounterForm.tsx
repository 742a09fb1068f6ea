import { memo, useState, type FormEvent } from 'react';
import { maxNameLength, nameProblem, normalName } from '../core/models/counter/name.ts';
import type { Run } from './App.tsx';

function AddCounterFormView({ run }: { run: Run }) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  // The limit as you type, on the name as it will be kept: nothing is ever cut off silently.
  const length = normalName(name).length;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    const wrong = nameProblem(normalName(name), name);
    setProblem(wrong);
    if (wrong) return;
    setBusy(true);
    const created = await run(`counter-${crypto.randomUUID()}`, { type: 'create', name });
    setBusy(false);
    if (created) setName('');
  };

  return (
    <form className="add" onSubmit={submit} noValidate>
      <label htmlFor="counter-name" className="visually-hidden">
        Counter name
      </label>
      <input
        id="counter-name"
        value={name}
        onChange={(event) => {
          setName(event.target.value);
          setProblem(undefined);
        }}
        placeholder="Name a new counter"
        autoComplete="off"
        aria-invalid={problem ? true : undefined}
        aria-describedby="counter-name-help"
      />
      <button type="submit" disabled={busy}>
        Add counter
      </button>
      <span
        id="counter-name-help"
        className={`small ${problem || length > maxNameLength ? 'field-error' : 'muted'}`}
        aria-live="polite"
      >
        {problem ?? `${length}/${maxNameLength}`}
      </span>
    </form>
  );
}

/** Rendered again only when what it is given changes (not on every count in the list). */
export const AddCounterForm = memo(AddCounterFormView);
