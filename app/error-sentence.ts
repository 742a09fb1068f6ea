import { reviveError } from '../core/errors.ts';

/**
 * What a person reads of a failed call: its sentence. The engine checks every call's arguments
 * (core/engine-protocol.ts, `checkedMethods`) and names the method before the reason, for a
 * developer reading a log: "The call to joinSpace is malformed: That is not a Tally pairing
 * link." Only the reason is a sentence a person can act on.
 */
export function sentenceOf(error: unknown): string {
  const { code, message } = reviveError(error);
  return code === 'invalid' ? message.replace(/^The call to \w+ is malformed: /, '') : message;
}
