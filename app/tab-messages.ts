import { z } from 'zod';

/**
 * Without SharedWorker, tabs reach the leader tab's engine over a BroadcastChannel with these
 * messages. Another tab is another thread: every message is validated before it is used.
 */
/** The engine methods a follower may call through the leader. */
export const methods = [
  'info',
  'execute',
  'startSync',
  'joinSpace',
  'leaveSpace',
  'dismissRejection',
  'setOnline',
] as const;
export type Method = (typeof methods)[number];

const tab = z.string().regex(/^[A-Za-z0-9-]{8,64}$/);

export const tabMessageSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('call'),
    from: tab,
    id: z.number().int(),
    method: z.enum(methods),
    args: z.array(z.unknown()).max(4),
  }),
  z.object({
    kind: z.literal('reply'),
    to: tab,
    id: z.number().int(),
    ok: z.boolean(),
    value: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  }),
  z.object({
    kind: z.literal('subscribe'),
    from: tab,
    sub: z.number().int(),
    request: z.unknown(),
  }),
  z.object({ kind: z.literal('unsubscribe'), from: tab, sub: z.number().int() }),
  z.object({ kind: z.literal('update'), to: tab, sub: z.number().int(), update: z.unknown() }),
  z.object({ kind: z.literal('leader'), tab }),
]);
export type TabMessage = z.infer<typeof tabMessageSchema>;
