import type { Invite } from './auth.ts';

/** What middleware hands on to later handlers of one request. */
export type AppEnv = {
  Variables: {
    /** The space of `/api/spaces/:space/*`, set once its token was verified. */
    space: string;
    /** The id of the device whose token it was (never secret: the token's mac is). */
    device: string;
    /** The pairing invite a joining device came with (`POST …/devices` only). */
    invite: Invite;
    /**
     * The request's admission, when it runs beside the route (`requireSpaceToken`'s
     * `admitAlongside`): awaited before anything is stored.
     */
    admitted: Promise<void>;
    /** The Tally error code a failed request answered with, for the request log. */
    errorCode: string;
  };
};
