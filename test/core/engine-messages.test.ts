import { describe, expect, it } from 'vitest';
import { engineAnswerSchemas, engineUpdateSchema } from '../../core/engine-messages.ts';

describe('engine messages from another tab', () => {
  it('accepts the updates the engine sends', () => {
    const row = {
      id: 'counter-abc',
      name: 'Tea',
      value: 2,
      version: 3,
      createdAt: 1,
      updatedAt: 2,
    };
    expect(
      engineUpdateSchema.safeParse({ type: 'counters', reset: true, rows: [row] }).success,
    ).toBe(true);
    expect(
      engineUpdateSchema.safeParse({ type: 'sync', state: 'synced', pending: 0, rejected: [] })
        .success,
    ).toBe(true);
  });

  it.each([
    [{ type: 'counters', reset: true, rows: [{ id: 'counter-abc', name: 'Tea', value: -1 }] }],
    [{ type: 'history', stream: '../x', reset: false, entries: [] }],
    [{ type: 'notice', notice: 'format-disk', message: 'x' }],
    [{ type: 'sync', state: 'synced', pending: 0, rejected: [], extra: 'smuggled' }],
    [{ type: 'explode' }],
    ['counters'],
  ])('refuses %j', (update) => expect(engineUpdateSchema.safeParse(update).success).toBe(false));

  it('checks each answer against its method', () => {
    expect(
      engineAnswerSchemas.execute.safeParse({ type: 'rejected', code: 'rejected', reason: 'no' })
        .success,
    ).toBe(true);
    expect(
      engineAnswerSchemas.execute.safeParse({ type: 'accepted', stream: 'counter-abc' }).success,
    ).toBe(false);
    expect(engineAnswerSchemas.leaveSpace.safeParse(undefined).success).toBe(true);
    expect(
      engineAnswerSchemas.info.safeParse({ build: 'x', device: 'y', host: 'evil' }).success,
    ).toBe(false);
  });
});
