/**
 * What a pairing link carries (`…/#pair=<token>`), with no schema library: a pairing invite
 * (`p1.…`, what devices show now) or, from an older link, a device token of the space. The page
 * checks a link it is opened with by this before it asks the person to join.
 */
export const pairingTokenPattern =
  /^(p1\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{40}|t1\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{43,128})$/;

export const isPairingToken = (token: string): boolean => pairingTokenPattern.test(token);
