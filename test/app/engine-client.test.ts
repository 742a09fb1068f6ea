import { describe, expect, it } from 'vitest';
import { clientOver } from '../../app/engine-client.ts';
import type { EngineUpdate, ExecuteOutcome } from '../../core/engine-protocol.ts';

/**
 * How a tab sends a burst of commands (app/engine-client.ts): calls of at most 250, and a
 * command the browser cannot send failing alone without the others changing order. The transport
 * here behaves as Comlink over a port does: a call whose arguments cannot be cloned is refused
 * with a DataCloneError, after the calls made after it have gone (the e2e suite sends them to
 * the real engine).
 */
function transport() {
  const sent: string[] = [];
  const calls: string[] = [];
  const post = (requests: readonly { commands: readonly Record<string, unknown>[] }[]) => {
    try {
      structuredClone(requests);
    } catch {
      return Promise.reject(new DOMException('could not be cloned', 'DataCloneError'));
    }
    for (const request of requests) sent.push(String(request.commands[0]!.label));
    return Promise.resolve(
      requests.map((): ExecuteOutcome => ({ type: 'accepted', version: 1 }) as ExecuteOutcome),
    );
  };
  const call = {
    execute: (request: { commands: readonly Record<string, unknown>[] }) => {
      calls.push('execute');
      return post([request]).then((outcomes) => outcomes[0]);
    },
    executeMany: (requests: readonly { commands: readonly Record<string, unknown>[] }[]) => {
      calls.push(`executeMany ${requests.length}`);
      return post(requests);
    },
  };
  const client = clientOver('shared-worker', {
    call: call as never,
    subscribe: () => () => undefined,
  });
  return { client, sent, calls };
}

describe('a burst of commands from one task', () => {
  it('goes as calls of at most 250, and one the browser cannot send fails alone, the rest in order', async () => {
    const { client, sent, calls } = transport();
    const answers = await Promise.allSettled(
      Array.from({ length: 600 }, (_, i) =>
        client.execute(
          'counter-burst',
          i === 300
            ? { type: 'increment', label: i, fn: () => i }
            : { type: 'increment', label: i },
        ),
      ),
    );
    expect(answers.filter((a) => a.status === 'rejected').length).toBe(1);
    expect(answers[300]).toMatchObject({ status: 'rejected' });
    // Every other command sent once, in the order it was issued.
    expect(sent).toEqual(
      Array.from({ length: 600 }, (_, i) => String(i)).filter((l) => l !== '300'),
    );
    expect(calls).toEqual([
      'executeMany 250',
      ...Array.from({ length: 250 }, () => 'execute'),
      'executeMany 100',
    ]);
  });
});

describe('a first screen the page read itself', () => {
  /** A client whose engine sends the view's updates when the test says. */
  function engine() {
    const send: ((update: EngineUpdate) => void)[] = [];
    const client = clientOver('shared-worker', {
      call: {} as never,
      subscribe: (_request, onUpdate) => {
        send.push(onUpdate);
        return () => undefined;
      },
    });
    return { client, send: (update: EngineUpdate) => send.forEach((s) => s(update)) };
  }
  const row = (id: string, value: number) => ({ key: id, value: { id, value } });
  const screen = { view: 'counters', rows: [row('a', 1)], listed: 3 };

  it('shows until the engine’s first update, which replaces it, and never after', () => {
    const { client, send } = engine();
    // Nobody watches the view: nothing to show it in.
    expect(client.showFirstScreen(screen)).toBe(false);
    const seen: EngineUpdate[] = [];
    client.subscribe({ topic: 'view', view: 'counters' }, (update) => seen.push(update));
    expect(client.showFirstScreen(screen)).toBe(true);
    expect([...client.viewRows('counters')!.keys()]).toEqual(['a']);
    expect(client.viewListed('counters')).toBe(3);
    expect(seen).toMatchObject([{ type: 'view', reset: true, listed: 3 }]);
    send({
      type: 'view',
      view: 'counters',
      reset: true,
      rows: [row('a', 2), row('b', 0)],
      removed: [],
    });
    expect([...client.viewRows('counters')!.values()]).toEqual([
      row('a', 2).value,
      row('b', 0).value,
    ]);
    expect(client.viewListed('counters')).toBeUndefined();
    // Later, it is refused: what the engine sent is newer.
    expect(client.showFirstScreen(screen)).toBe(false);
    expect(client.viewRows('counters')!.size).toBe(2);
  });
});
