// The list of models, with the set type: what the server imports to validate pushes.
export { models } from './models/index.ts';
export type { ModelSet } from './model.ts';
