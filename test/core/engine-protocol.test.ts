import { describe, expect, it } from 'vitest';
import { engineMethods, engineUpdateSchema, checkAnswer } from '../../core/engine-protocol.ts';
import { models } from '../../core/models/index.ts';

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
      engineUpdateSchema.safeParse({
        type: 'view',
        view: 'counters',
        reset: true,
        rows: [{ key: row.id, value: row }],
        removed: [],
      }).success,
    ).toBe(true);
    expect(models.view('counters')?.schema.safeParse(row).success).toBe(true);
    expect(
      engineUpdateSchema.safeParse({ type: 'sync', state: 'synced', pending: 0, rejected: [] })
        .success,
    ).toBe(true);
  });

  it('refuses a view row that fails its view’s schema', () => {
    expect(
      models.view('counters')?.schema.safeParse({ id: 'counter-abc', name: 'Tea', value: -1 })
        .success,
    ).toBe(false);
  });

  it.each([
    [{ type: 'view', view: 'counters', reset: true, rows: [{ id: 'counter-abc' }], removed: [] }],
    [{ type: 'history', stream: '../x', reset: false, entries: [] }],
    [{ type: 'notice', notice: 'format-disk', message: 'x' }],
    [{ type: 'sync', state: 'synced', pending: 0, rejected: [], extra: 'smuggled' }],
    [{ type: 'explode' }],
    ['counters'],
  ])('refuses %j', (update) => expect(engineUpdateSchema.safeParse(update).success).toBe(false));

  it('checks each answer against its method', () => {
    expect(
      engineMethods.execute.answer.safeParse({ type: 'rejected', code: 'rejected', reason: 'no' })
        .success,
    ).toBe(true);
    expect(
      engineMethods.execute.answer.safeParse({ type: 'accepted', stream: 'counter-abc' }).success,
    ).toBe(false);
    expect(engineMethods.setOnline.answer.safeParse(undefined).success).toBe(true);
    expect(engineMethods.leaveSpace.answer.safeParse({ note: 'Left.' }).success).toBe(true);
    expect(engineMethods.leaveSpace.answer.safeParse({ note: 1 }).success).toBe(false);
    expect(() => checkAnswer('info', { build: 'x', device: 'y', host: 'evil' })).toThrow(
      /malformed answer to info/,
    );
  });

  it('checks each call’s arguments before the engine sees them', () => {
    expect(engineMethods.setOnline.args.safeParse(['yes']).success).toBe(false);
    expect(engineMethods.joinSpace.args.safeParse(['javascript:x', 'p1.x']).success).toBe(false);
    expect(engineMethods.setOnline.args.safeParse([true]).success).toBe(true);
  });
});
