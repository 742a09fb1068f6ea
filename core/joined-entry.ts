/**
 * The type of the first history entry of a stream joined from the server's snapshot whose
 * history below it is not read yet (docs/architecture.md, "Joining a space"): the name and value
 * it was joined at; the changes before it are on the sync server. A module of its own, so the
 * history panel's code does not pull in the engine's protocol.
 */
export const joinedEntryType = 'Joined';
