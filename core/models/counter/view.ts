/** The counter list's read model, by name (what a tab subscribes to). */
export const counterViewName = 'counters';
