import { useState, type FormEvent } from 'react';
import type { Run } from './App.tsx';

export function AddCounterForm({ run }: { run: Run }) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    const created = await run(`counter-${crypto.randomUUID()}`, { type: 'create', name });
    setBusy(false);
    if (created) setName('');
  };

  return (
    <form className="add" onSubmit={submit}>
      <label htmlFor="counter-name" className="visually-hidden">
        Counter name
      </label>
      <input
        id="counter-name"
        value={name}
        onChange={(event) => setName(event.target.value)}
        placeholder="Name a new counter"
        maxLength={60}
        autoComplete="off"
        required
      />
      <button type="submit" disabled={busy}>
        Add counter
      </button>
    </form>
  );
}
