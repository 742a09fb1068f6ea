/**
 * The rule for a device's name, with no schema library: the page checks a name as a person types
 * it with the same rule the server holds it to (core/protocol.ts `deviceNameSchema`).
 */

import { plainText, showsSomething } from './plain-text.ts';

export const maxDeviceNameLength = 60;

/** A device name as the server keeps it (core/plain-text.ts). */
export const normalDeviceName = plainText;

/** Why a name (as typed) cannot be a device's name; undefined when it can. */
export function deviceNameProblem(typed: string): string | undefined {
  if (!typed.isWellFormed()) return 'A device name cannot hold broken characters.';
  const name = normalDeviceName(typed);
  if (name.length === 0) return 'A device needs a name.';
  if (!showsSomething(name)) return 'A device name needs a visible character.';
  if (name.length > maxDeviceNameLength)
    return `A device name is at most ${maxDeviceNameLength} characters.`;
  return undefined;
}
