import { describe, expect, it } from 'vitest';
import { z } from '../../core/zod.ts';
import { createCodec } from '../../core/codec.ts';
import { TallyError } from '../../core/errors.ts';
import { ModelSet, type AnyModel, type Model } from '../../core/model.ts';
import type { Projection } from '../../core/projection.ts';
import { counterModel } from '../../core/models/counter/model.ts';

/**
 * A toy model whose first event is also called `Created`, with other data than the counter's:
 * the collision per-model codecs exist for (docs/architecture.md, "Models").
 */
type TagEvent = { type: 'Created'; data: { label: string; color: string } };
type TagCommand = { type: 'create'; label: string; color: string };
type TagState = { readonly label?: string };

const tagList: Projection<{ label: string }, TagEvent> = {
  view: 'tags',
  key: (event) => event.stream,
  apply: (_row, event) => ({ label: event.data.label }),
  schema: z.strictObject({ label: z.string() }),
};

function tagModel(
  overrides: Partial<Model<TagState, TagCommand, TagEvent, void>> = {},
): Model<TagState, TagCommand, TagEvent, void> {
  return {
    decider: {
      name: 'tag',
      stateVersion: 1,
      initialState: () => ({}),
      decide: (_state, command) => [
        { type: 'Created', data: { label: command.label, color: command.color } },
      ],
      evolve: (_state, event) => ({ label: event.data.label }),
    },
    commandSchema: z.strictObject({
      type: z.literal('create'),
      label: z.string(),
      color: z.string(),
    }),
    stateSchema: z.strictObject({ label: z.optional(z.string()) }),
    codec: createCodec<TagEvent>({
      Created: { schema: 1, data: z.strictObject({ label: z.string(), color: z.string() }) },
    }),
    projections: [tagList],
    rules: () => ({ observe: () => {}, context: () => undefined }),
    label: (state) => state.label,
    commandsOf: (events) =>
      events.map((event) => ({ type: 'create', label: event.data.label, color: event.data.color })),
    ...overrides,
  };
}

const envelope = (stream: string, version: number, data: Record<string, unknown>) => ({
  id: `evt-${stream.slice(-8)}${version}`,
  stream,
  version,
  type: 'Created',
  data,
  meta: { time: 1, device: 'device-000001', command: `cmd-${stream.slice(-8)}`, schema: 1 },
});

const refusedInvalid = (fn: () => unknown, message: RegExp) => {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(TallyError);
  expect((caught as TallyError).code).toBe('invalid');
  expect((caught as TallyError).message).toMatch(message);
};

describe('ModelSet', () => {
  const models = new ModelSet([counterModel as AnyModel, tagModel() as AnyModel]);

  it('decodes two models’ `Created` events, each with its own model’s codec', () => {
    const counter = envelope('counter-abc12345', 1, { name: 'Water' });
    const tag = envelope('tag-abc12345', 1, { label: 'Home', color: 'blue' });
    // Interleaved, as a feed brings them.
    expect([counter, tag, counter].map((raw) => models.decode(raw))).toEqual([
      counter,
      tag,
      counter,
    ]);
    expect(models.modelOf('tag-abc12345').decider.name).toBe('tag');
    expect(models.modelOf('counter-abc12345').decider.name).toBe('counter');
  });

  it('never decodes one model’s `Created` with the other’s schema', () => {
    refusedInvalid(
      () => models.decode(envelope('tag-abc12345', 1, { name: 'Water' })),
      /tag-abc12345/,
    );
    refusedInvalid(
      () => models.decode(envelope('counter-abc12345', 1, { label: 'Home', color: 'blue' })),
      /counter-abc12345/,
    );
  });

  it('routes projections by stream and views by name', () => {
    expect(models.of('tag-abc12345')).toEqual([tagList]);
    expect(models.of('counter-abc12345')).toEqual(counterModel.projections);
    expect(models.view('tags')).toBe(tagList);
    expect(models.of('nothing-abc12345')).toEqual([]);
  });

  it('refuses a malformed stream id, an unknown prefix and an event naming no stream', () => {
    refusedInvalid(() => models.modelOf('../etc'), /is not a stream id/);
    refusedInvalid(() => models.modelOf('board-main'), /unknown kind \(“board”\)/);
    refusedInvalid(() => models.decode({ type: 'Created' }), /names no stream/);
  });

  it('refuses two models of one name, a name that is no stream prefix, and a view twice', () => {
    expect(() => new ModelSet([tagModel() as AnyModel, tagModel() as AnyModel])).toThrow(
      /Two models are named “tag”/,
    );
    const named = (name: string) =>
      tagModel({ decider: { ...tagModel().decider, name } }) as AnyModel;
    expect(() => new ModelSet([named('Tag-s')])).toThrow(/must be a stream prefix/);
    expect(() => new ModelSet([named('')])).toThrow(/must be a stream prefix/);
    expect(() => new ModelSet([tagModel({ projections: [tagList, tagList] }) as AnyModel])).toThrow(
      /Model tag has two views named “tags”/,
    );
    expect(() => new ModelSet([tagModel() as AnyModel, named('label')])).toThrow(
      /Two models define a view of the same name/,
    );
  });
});
