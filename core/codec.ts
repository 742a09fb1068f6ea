import { z } from './zod.ts';
import { envelopeSchema, type EventEnvelope } from './envelope.ts';
import { TallyError } from './errors.ts';

type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

export type EventTypeSpec = {
  /** The current schema version of this event's data. */
  readonly schema: number;
  readonly data: z.ZodMiniType;
  /** `upcast[n]` turns data written at schema n into schema n + 1. */
  readonly upcast?: Readonly<Record<number, Upcaster>>;
};

export interface Codec<E extends { type: string; data: unknown }> {
  /** The schema version new events of this type are written with. */
  schemaOf(type: E['type']): number;
  /**
   * Validates a record read back from storage or the network. Never returns silent garbage: an
   * unknown type, a malformed record or data that fails its schema throws an `invalid` error
   * that names where the record came from.
   */
  decode(raw: unknown): EventEnvelope<E>;
  /**
   * `decode` for an envelope already validated against `envelopeSchema` (a push body parsed
   * with the protocol's schema): checks only the type and its data, without parsing twice.
   */
  decodeEnvelope(envelope: z.infer<typeof envelopeSchema>): EventEnvelope<E>;
}

const describe = (raw: unknown): string => {
  if (typeof raw === 'object' && raw !== null) {
    const { stream, version } = raw as Record<string, unknown>;
    if (typeof stream === 'string' && typeof version === 'number')
      return ` (stream ${stream.slice(0, 100)}, version ${version})`;
  }
  return '';
};

export function createCodec<E extends { type: string; data: unknown }>(
  specs: Readonly<Record<E['type'], EventTypeSpec>>,
): Codec<E> {
  const table = specs as Readonly<Record<string, EventTypeSpec>>;
  return {
    schemaOf(type) {
      const spec = table[type];
      if (!spec) throw new TallyError('invalid', `Unknown event type “${type}”.`);
      return spec.schema;
    },
    decode(raw) {
      const envelope = envelopeSchema.safeParse(raw);
      if (!envelope.success)
        throw new TallyError(
          'invalid',
          `A stored event is malformed${describe(raw)}: ${z.prettifyError(envelope.error)}`,
        );
      return decodeEnvelope(envelope.data);
    },
    decodeEnvelope,
  };

  function decodeEnvelope(record: z.infer<typeof envelopeSchema>): EventEnvelope<E> {
    const raw = record;
    const spec = Object.hasOwn(table, record.type) ? table[record.type] : undefined;
    if (!spec)
      throw new TallyError('invalid', `Unknown event type “${record.type}”${describe(raw)}.`);
    if (record.meta.schema > spec.schema)
      throw new TallyError(
        'invalid',
        `Event written by a newer version of Tally (schema ${record.meta.schema})${describe(raw)}.`,
      );
    let data = record.data;
    for (let version = record.meta.schema; version < spec.schema; version++) {
      const up = spec.upcast?.[version];
      if (!up)
        throw new TallyError(
          'invalid',
          `No upcaster for ${record.type} schema ${version}${describe(raw)}.`,
        );
      data = up(data);
    }
    const parsed = spec.data.safeParse(data);
    if (!parsed.success)
      throw new TallyError(
        'invalid',
        `A stored ${record.type} event has bad data${describe(raw)}: ${z.prettifyError(parsed.error)}`,
      );
    return {
      ...record,
      data: parsed.data,
      meta: { ...record.meta, schema: spec.schema },
    } as unknown as EventEnvelope<E>;
  }
}
