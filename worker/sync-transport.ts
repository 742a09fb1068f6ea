import type { z } from '../core/zod.ts';
import { TallyError, isErrorCode } from '../core/errors.ts';
import {
  createSpaceResponseSchema,
  deviceTokenResponseSchema,
  devicesResponseSchema,
  type DevicesResponse,
  inviteResponseSchema,
  type InviteResponse,
  errorBodySchema,
  liveMessageSchema,
  pullResponseSchema,
  pushResponseSchema,
  snapshotPageSchema,
  streamEventsResponseSchema,
  type SnapshotPage,
  type StreamEventsResponse,
  type CreateSpaceResponse,
  type LiveMessage,
  type PullResponse,
  type PushRequest,
  type PushResponse,
} from '../core/protocol.ts';
import { readSse } from './sse.ts';
import type { SyncSettings } from '../core/sync-port.ts';

export type Fetch = typeof fetch;

/**
 * The live feed no longer holds the cursor it was asked to follow from (docs/architecture.md,
 * "Failover"): the client catches up again, and the catch-up says where the feed went back to.
 */
export class FeedWentBack extends Error {}

/**
 * A 429: the server said how long to wait (`Retry-After`, whole seconds; bounded here to an
 * hour, 0 when absent or not a number).
 */
export class RetryLater extends TallyError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super('too-many-requests', message);
  }
}

const retryAfterMs = (response: Response): number => {
  const seconds = Number(response.headers.get('Retry-After'));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 3_600) * 1_000 : 0;
};

const unreachable = (origin: string, cause: unknown) =>
  new TallyError('unavailable', `The sync server at ${origin} cannot be reached.`, { cause });

/** The server is an edge: every answer is checked against the protocol's schema. */
async function answer<T>(response: Response, schema: z.ZodMiniType<T>, origin: string): Promise<T> {
  let body: unknown;
  try {
    body = await response.json();
  } catch (cause) {
    throw new TallyError('unavailable', `The sync server at ${origin} sent no JSON.`, { cause });
  }
  if (!response.ok) {
    const error = errorBodySchema.safeParse(body);
    if (error.success && error.data.error.code === 'too-many-requests')
      throw new RetryLater(error.data.error.message, retryAfterMs(response));
    if (error.success && isErrorCode(error.data.error.code))
      throw new TallyError(error.data.error.code, error.data.error.message);
    throw new TallyError('unavailable', `The sync server answered ${response.status}.`);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success)
    throw new TallyError('unavailable', `The sync server at ${origin} sent a malformed answer.`);
  return parsed.data;
}

/** The sync protocol's requests (docs/architecture.md, "Sync rules") over plain `fetch`. */
export class SyncTransport {
  constructor(private readonly fetch: Fetch = (...args) => globalThis.fetch(...args)) {}

  /** Whether the server answers its health check: a cheap probe while it is away. */
  async healthy(origin: string): Promise<boolean> {
    try {
      const response = await this.fetch(`${origin}/api/health`);
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }

  async createSpace(origin: string, name: string): Promise<CreateSpaceResponse> {
    let response: Response;
    try {
      response = await this.fetch(`${origin}/api/spaces`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name }),
      });
    } catch (cause) {
      throw unreachable(origin, cause);
    }
    return answer(response, createSpaceResponseSchema, origin);
  }

  /**
   * A token of this device's own, minted with the pairing token it was given: the device never
   * keeps another device's credential, and can later leave without locking the others out.
   */
  async deviceToken(config: SyncSettings, name: string): Promise<string> {
    let response: Response;
    try {
      response = await this.fetch(`${config.origin}/api/spaces/${config.space}/devices`, {
        method: 'POST',
        headers: { ...auth(config), 'Content-Type': 'application/json' },
        body: JSON.stringify({ name }),
      });
    } catch (cause) {
      throw unreachable(config.origin, cause);
    }
    return (await answer(response, deviceTokenResponseSchema, config.origin)).token;
  }

  /** A pairing invite for the space: what the pairing link carries instead of this token. */
  async invite(config: SyncSettings): Promise<InviteResponse> {
    let response: Response;
    try {
      response = await this.fetch(`${config.origin}/api/spaces/${config.space}/invites`, {
        method: 'POST',
        headers: auth(config),
      });
    } catch (cause) {
      throw unreachable(config.origin, cause);
    }
    return answer(response, inviteResponseSchema, config.origin);
  }

  /** Withdraws an invite nobody has used yet. */
  async cancelInvite(config: SyncSettings, invite: string): Promise<void> {
    await this.noContent(config, `invites/${encodeURIComponent(invite)}`, { method: 'DELETE' });
  }

  /** The space's devices, and which one this is. */
  async devices(config: SyncSettings): Promise<DevicesResponse> {
    let response: Response;
    try {
      response = await this.fetch(`${config.origin}/api/spaces/${config.space}/devices`, {
        headers: auth(config),
      });
    } catch (cause) {
      throw unreachable(config.origin, cause);
    }
    return answer(response, devicesResponseSchema, config.origin);
  }

  async renameSelf(config: SyncSettings, name: string): Promise<void> {
    await this.noContent(config, 'devices/self', {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name }),
    });
  }

  /** Removes another device: its token is refused from now on, everywhere. */
  async removeDevice(config: SyncSettings, device: string): Promise<void> {
    await this.noContent(config, `devices/${encodeURIComponent(device)}`, { method: 'DELETE' });
  }

  /**
   * Deletes an archived stream forever on the server, for every device of the space (204, also
   * when the server holds nothing of it). Anything else, a 404 included (an instance without the
   * route), is a failure: the device then deletes nothing either.
   */
  async deleteStream(config: SyncSettings, stream: string): Promise<void> {
    await this.noContent(config, `streams/${encodeURIComponent(stream)}`, { method: 'DELETE' });
  }

  private async noContent(config: SyncSettings, path: string, init: RequestInit): Promise<void> {
    let response: Response;
    try {
      response = await this.fetch(`${config.origin}/api/spaces/${config.space}/${path}`, {
        ...init,
        headers: { ...auth(config), ...(init.headers as Record<string, string> | undefined) },
      });
    } catch (cause) {
      throw unreachable(config.origin, cause);
    }
    if (response.status === 204) return;
    await answer(response, errorBodySchema, config.origin);
    throw new TallyError('unavailable', `The sync server answered ${response.status}.`);
  }

  /** Revokes this device's token on the server: the space stops accepting it. */
  async leave(config: SyncSettings): Promise<void> {
    let response: Response;
    try {
      response = await this.fetch(`${config.origin}/api/spaces/${config.space}/devices/self`, {
        method: 'DELETE',
        headers: auth(config),
      });
    } catch (cause) {
      throw unreachable(config.origin, cause);
    }
    // Already refused (left before, or revoked): the server no longer takes it, which is the aim.
    if (response.status === 204 || response.status === 401) return;
    await answer(response, errorBodySchema, config.origin);
    throw new TallyError('unavailable', `The sync server answered ${response.status}.`);
  }

  async push(config: SyncSettings, body: PushRequest): Promise<PushResponse> {
    let response: Response;
    try {
      response = await this.fetch(`${config.origin}/api/spaces/${config.space}/push`, {
        method: 'POST',
        headers: { ...auth(config), 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (cause) {
      throw unreachable(config.origin, cause);
    }
    return answer(response, pushResponseSchema, config.origin);
  }

  async pull(config: SyncSettings, after: string, signal?: AbortSignal): Promise<PullResponse> {
    let response: Response;
    try {
      response = await this.fetch(
        `${config.origin}/api/spaces/${config.space}/events?after=${encodeURIComponent(after)}`,
        { headers: auth(config), signal },
      );
    } catch (cause) {
      throw unreachable(config.origin, cause);
    }
    return answer(response, pullResponseSchema, config.origin);
  }

  /**
   * A page of the space's snapshots (docs/architecture.md, "Joining a space"); undefined when the
   * server cannot answer them (its index is incomplete: 409, or it has no such route: 404), so
   * the device reads the feed from its start instead.
   */
  async snapshots(
    config: SyncSettings,
    page: string,
    signal?: AbortSignal,
  ): Promise<SnapshotPage | undefined> {
    let response: Response;
    try {
      response = await this.fetch(
        `${config.origin}/api/spaces/${config.space}/snapshots?page=${encodeURIComponent(page)}`,
        { headers: auth(config), signal },
      );
    } catch (cause) {
      throw unreachable(config.origin, cause);
    }
    if (response.status === 409 || response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    return answer(response, snapshotPageSchema, config.origin);
  }

  /** One stream's events after `after`, a page at a time; undefined when it was deleted forever. */
  async streamEvents(
    config: SyncSettings,
    stream: string,
    after: number,
    signal?: AbortSignal,
  ): Promise<StreamEventsResponse | undefined> {
    let response: Response;
    try {
      response = await this.fetch(
        `${config.origin}/api/spaces/${config.space}/streams/${encodeURIComponent(stream)}/events?after=${after}`,
        { headers: auth(config), signal },
      );
    } catch (cause) {
      throw unreachable(config.origin, cause);
    }
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    return answer(response, streamEventsResponseSchema, config.origin);
  }

  /**
   * Follows the live feed from `after`; yields each message's entries, validated. Ends when the
   * server ends the stream; throws when it fails or sends an `error` event, and `FeedWentBack`
   * when the feed no longer holds `after`. `onOpen` is called
   * once the server has taken the request (not when it refuses it).
   */
  async *live(
    config: SyncSettings,
    after: string,
    signal: AbortSignal,
    onOpen?: () => void,
  ): AsyncGenerator<LiveMessage> {
    let response: Response;
    try {
      response = await this.fetch(
        `${config.origin}/api/spaces/${config.space}/live?after=${encodeURIComponent(after)}`,
        { headers: { ...auth(config), Accept: 'text/event-stream' }, signal },
      );
    } catch (cause) {
      throw unreachable(config.origin, cause);
    }
    if (!response.ok || !response.body) {
      await answer(response, errorBodySchema, config.origin);
      throw new TallyError('unavailable', `The live feed answered ${response.status}.`);
    }
    onOpen?.();
    for await (const message of readSse(response.body)) {
      if (message.event === 'error')
        throw new TallyError('unavailable', 'The live feed ended with an error.');
      if (message.event === 'wentBack') throw new FeedWentBack();
      if (message.event !== 'message') continue;
      let data: unknown;
      try {
        data = JSON.parse(message.data);
      } catch (cause) {
        throw new TallyError('unavailable', 'The live feed sent a malformed message.', { cause });
      }
      const parsed = liveMessageSchema.safeParse(data);
      if (!parsed.success)
        throw new TallyError('unavailable', 'The live feed sent a malformed message.');
      yield parsed.data;
    }
  }
}

const auth = (config: SyncSettings) => ({ Authorization: `Bearer ${config.token}` });
