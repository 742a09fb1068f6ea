import { z } from '../core/zod.ts';
import { methodNames, type Method } from '../core/engine-methods.ts';

/**
 * Without SharedWorker, tabs reach the leader tab's engine over a BroadcastChannel with these
 * messages. Another tab is another thread: every message is validated before it is used.
 */
export type { Method };

const tab = z.string().check(z.regex(/^[A-Za-z0-9-]{8,64}$/));

export const tabMessageSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('call'),
    from: tab,
    id: z.number().check(z.int()),
    method: z.enum(methodNames),
    args: z.array(z.unknown()).check(z.maxLength(4)),
  }),
  z.object({
    kind: z.literal('reply'),
    to: tab,
    id: z.number().check(z.int()),
    ok: z.boolean(),
    value: z.optional(z.unknown()),
    error: z.optional(z.object({ code: z.string(), message: z.string() })),
  }),
  z.object({
    kind: z.literal('subscribe'),
    from: tab,
    sub: z.number().check(z.int()),
    request: z.unknown(),
  }),
  z.object({ kind: z.literal('unsubscribe'), from: tab, sub: z.number().check(z.int()) }),
  z.object({
    kind: z.literal('update'),
    to: tab,
    sub: z.number().check(z.int()),
    update: z.unknown(),
  }),
  z.object({ kind: z.literal('leader'), tab }),
]);
export type TabMessage = z.infer<typeof tabMessageSchema>;

/**
 * A call to a method this build does not know: from a tab of a newer build, after an update. The
 * leader answers it (as refused) instead of dropping it, so that the caller's promise settles.
 */
export const unknownCallSchema = z.object({
  kind: z.literal('call'),
  from: tab,
  id: z.number().check(z.int()),
  method: z.string().check(z.maxLength(64)),
});
